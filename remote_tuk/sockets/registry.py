"""The connected sockets of this process: who each one is and under which sign-in (issue 12 #9).

Which rooms a socket is in is the Socket.IO server's own record (``server.manager.get_rooms``); this registry adds
what the server does not know: the user and the sign-in behind every connection, so that taking access away can find
the sockets it concerns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Connection:
    namespace: str
    sid: str
    user_id: int
    sign_in_id: int | None


class SocketRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[tuple[str, str], Connection] = {}

    def add(self, connection: Connection) -> None:
        with self._lock:
            self._connections[(connection.namespace, connection.sid)] = connection

    def remove(self, namespace: str, sid: str) -> Connection | None:
        with self._lock:
            return self._connections.pop((namespace, sid), None)

    def connections(self) -> list[Connection]:
        """A snapshot (sockets come and go while it is used)."""
        with self._lock:
            return list(self._connections.values())

    def clear(self) -> None:
        with self._lock:
            self._connections.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._connections)
