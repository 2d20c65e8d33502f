"""Assessment instruments: question banks per scheme (FR.IA.05/06/07), versioned, with the answer keys kept apart."""
