"""What goes into a log entry, checked before any work is done: ids, actors and metadata in canonical JSON (no
floats, Unicode text only), so that the log never holds a line the verifier would refuse; and the receipt an append
returns."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from .log import SYSTEM_CHAIN
from .verifier import is_text

ID_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,127}$")
Actor = tuple[str, str]
SYSTEM_ACTOR: Actor = ("system", "evidence_store")


@dataclass(frozen=True)
class Receipt:
    log_index: int
    entry_hash: str
    object_key: str | None = None
    object_version: str | None = None
    spooled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_text(value: str, what: str) -> str:
    """Refuse a string that is not Unicode text (an unpaired UTF-16 surrogate, which JSON could carry as an escape
    but the verifier, and any verifier that reads UTF-8, refuses)."""
    if not is_text(value):
        raise ValueError(f"{what} holds an unpaired surrogate character, which is not Unicode text")
    return value


def check_canonical(value: Any, path: str = "metadata") -> None:
    """Refuse at append what the verifier would refuse later: canonical JSON has no floats, NaN or non-string keys,
    and its strings are Unicode text."""
    if isinstance(value, str):
        check_text(value, path)
    elif isinstance(value, float):
        raise ValueError(f"{path} holds the floating-point number {value!r}; use an integer (e.g. milliseconds) "
                         "or a string (canonical JSON has no floats)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{path} has a non-string key {k!r}")
            check_text(k, f"{path} key {k!r}")
            check_canonical(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_canonical(v, f"{path}[{i}]")
    elif not (value is None or isinstance(value, str | int | bool)):
        raise ValueError(f"{path} holds a {type(value).__name__}, which is not JSON")


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise ValueError(f"{what} must match {ID_RE.pattern}")
    return value


def actor_fields(actor: Actor) -> dict[str, str]:
    role, ident = actor
    return {"role": check_text(str(role), "actor role"), "id": check_text(str(ident), "actor id")}


def quarantine_entry(session_id: str, obj: dict[str, Any], reason: str) -> dict[str, Any]:
    """A ``quarantine`` entry on the system chain: an object (or an entry's object) that recovery or a refused append
    could not account for, with the reason, so it is never dropped silently."""
    return {"chain": SYSTEM_CHAIN, "kind": "quarantine", "session_id": session_id, "object": obj,
            "actor": actor_fields(SYSTEM_ACTOR), "reason": reason}
