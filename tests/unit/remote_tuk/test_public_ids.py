"""Session public ids are safe to pass on a command line (``python -m evidence_store export --session ID``)."""

from __future__ import annotations

import re

from remote_tuk.assessment.models import _public_id


def test_public_ids_never_start_with_a_dash_and_stay_url_safe() -> None:
    ids = [_public_id() for _ in range(3000)]  # 1 in 64 token_urlsafe values starts with "-": ~47 expected here
    assert not [i for i in ids if i.startswith("-")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)
    assert len(set(ids)) == len(ids)
