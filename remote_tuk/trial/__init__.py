"""The trial session (uji coba): before the day, a candidate runs the consent preview, the TUK check and a recorded
self-test without touching the real session (docs/TUK-CHECK.md, "Trial session")."""
