"""Telling the parts that hold access open (Socket.IO connections) that someone's access changed (issue 12 #9).

Services that take access away call :func:`changed` after their commit: sign-ins revoked (logout, password change,
role change, deactivation) and sessions whose audience changed (an assessor reassigned, an auditor's grant removed).
Listeners registered at start-up (``remote_tuk.sockets``) act on it; the services do not know about sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AccessChange:
    #: Sign-ins that ended: every socket opened under them is disconnected.
    sign_ins: frozenset[int] = frozenset()
    #: Sessions (public ids) whose audience changed: every socket in their rooms is checked again.
    sessions: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.sign_ins or self.sessions)


Listener = Callable[[AccessChange], None]
#: Called with every change, in the thread that made it, after its commit.
LISTENERS: list[Listener] = []


def changed(*, sign_ins: Iterable[int] = (), sessions: Iterable[str] = ()) -> AccessChange:
    change = AccessChange(frozenset(sign_ins), frozenset(sessions))
    if change:
        for listener in LISTENERS:
            listener(change)
    return change
