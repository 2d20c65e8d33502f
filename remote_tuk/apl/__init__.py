"""FR.APL.01 (application) and FR.APL.02 (self-assessment with portfolio) before the session, and their review."""
