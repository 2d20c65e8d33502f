"""Extra candidate-side media sources of a live session (issue 19): the phone as second camera, the screen share."""
