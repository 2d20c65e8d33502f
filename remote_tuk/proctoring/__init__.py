"""Live proctoring in the product (issue 14): the analysis pool fed by the live media hub, browser signals from the
candidate's page, findings as evidence, and the assessor's alert list (docs/PROCTORING.md, "Live sessions")."""
