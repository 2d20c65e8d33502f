"""TURN: time-limited credentials for coturn's shared secret (the TURN REST API draft), issued per page load."""
