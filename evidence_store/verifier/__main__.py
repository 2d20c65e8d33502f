"""``python -m evidence_store.verifier …``: the verifier's command line (see :mod:`evidence_store.verifier.cli`)."""

import sys

from .cli import main

sys.exit(main())
