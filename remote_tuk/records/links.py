"""Which session chains a new evidence chain (an appeal, an assessment record, an acknowledgement) links to.

A linked chain's opening names the head of each session chain it belongs to, and each of those sessions' bundles
holds it (docs/BUNDLE-FORMAT.md §4.6). Only chains the log has can be linked: a session that never went live has
none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def linkable(store: Any, public_ids: Iterable[str]) -> list[str]:
    """The session chains among *public_ids* that exist in the evidence log, in the order given."""
    wanted = list(dict.fromkeys(public_ids))
    with store.log.locked() as st:
        return [p for p in wanted if p in st.heads and p not in st.links]
