"""The assessor's classroom (issue 17): one page over every session of a schedule (docs/CLASSROOM.md)."""
