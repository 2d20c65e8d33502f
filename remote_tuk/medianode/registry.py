"""The live media nodes and the placement of sessions on them, in Redis.

Keys (``<p>`` is ``RTUK_MEDIA_NODES_PREFIX``):

* ``<p>:node:<name>``: the node's heartbeat, JSON ``{"name", "sessions", "cpu", "pid", "at"}``, written every
  ``ttl/3`` seconds with an expiry of ``ttl``. A node is alive while its key exists; ``kill -9`` lets it expire.
* ``<p>:nodes``: the set of names ever registered (the keys above say which are alive).
* ``<p>:place:<public id>``: the node a session is placed on. Written with ``SET NX`` (the first app node to place
  a session wins, the others read its choice) and replaced only if it still names the node found dead
  (compare-and-set in a Lua script), so two app nodes re-placing at once agree too.
* ``<p>:recent:<name>``: a sorted set of the sessions placed on the node in the last few seconds, counted as load
  until its next heartbeats report them (two sessions placed within one heartbeat do not both go to one node).
* ``<p>:placing``: a lock (redis-py ``Lock``, expiring after 2 s) held while a node is chosen and counted in
  ``recent``, so that sessions placed at the same moment, by one app node or several, are spread too.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import LockError

#: How long a placement is kept without use (a session placed and then abandoned is forgotten after this).
PLACEMENT_TTL_S = 24 * 3600
#: How long a fresh placement counts as load on its node.
RECENT_S = 5.0
#: The longest one app node holds ``<p>:placing`` (choosing a node and counting the choice), and waits for it.
PLACING_LOCK_S = 2.0

_REPLACE = """
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return ARGV[2]
end
return current
"""


class NoMediaNode(RuntimeError):
    """No media node is alive (the page gets 503 and tries again)."""


@dataclass(frozen=True)
class NodeLoad:
    name: str
    sessions: int
    cpu: float
    at: float

    def score(self, recent: int) -> tuple[float, float, str]:
        return (self.sessions + recent, self.cpu, self.name)


class Registry:
    def __init__(self, redis: Any, prefix: str, ttl_s: float = 3.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._replace = redis.register_script(_REPLACE)

    # --- keys -------------------------------------------------------------------------------------------------------

    def node_key(self, name: str) -> str:
        return f"{self.prefix}:node:{name}"

    def place_key(self, public_id: str) -> str:
        return f"{self.prefix}:place:{public_id}"

    def recent_key(self, name: str) -> str:
        return f"{self.prefix}:recent:{name}"

    def queue_key(self, name: str) -> str:
        return f"{self.prefix}:rpc:{name}"

    # --- the nodes' side --------------------------------------------------------------------------------------------

    def heartbeat(self, name: str, sessions: int, cpu: float, pid: int) -> None:
        body = json.dumps({"name": name, "sessions": int(sessions), "cpu": round(float(cpu), 3), "pid": pid,
                           "at": time.time()})
        pipe = self.redis.pipeline()
        pipe.set(self.node_key(name), body, px=int(self.ttl_s * 1000))
        pipe.sadd(f"{self.prefix}:nodes", name)
        pipe.execute()

    def leave(self, name: str) -> None:
        """A node stopping cleanly: dead at once (its sessions are placed again on their next offer)."""
        self.redis.delete(self.node_key(name))

    # --- the app nodes' side ----------------------------------------------------------------------------------------

    def alive(self, name: str) -> bool:
        return bool(self.redis.exists(self.node_key(name)))

    def nodes(self) -> list[NodeLoad]:
        """The live nodes with their last reported load."""
        names = sorted(n.decode() if isinstance(n, bytes) else n for n in self.redis.smembers(f"{self.prefix}:nodes"))
        if not names:
            return []
        out = []
        for name, raw in zip(names, self.redis.mget([self.node_key(n) for n in names]), strict=True):
            if raw is None:
                continue
            try:
                beat = json.loads(raw)
                out.append(NodeLoad(name, int(beat["sessions"]), float(beat["cpu"]), float(beat["at"])))
            except (ValueError, KeyError, TypeError):
                continue  # a malformed heartbeat is not a live node
        return out

    def placement(self, public_id: str) -> str | None:
        raw = self.redis.get(self.place_key(public_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    def least_loaded(self) -> str:
        nodes = self.nodes()
        if not nodes:
            raise NoMediaNode("no media node is alive")
        now = time.time()
        pipe = self.redis.pipeline()
        for n in nodes:
            pipe.zremrangebyscore(self.recent_key(n.name), "-inf", now - RECENT_S)
            pipe.zcard(self.recent_key(n.name))
        counts = pipe.execute()[1::2]
        best, _recent = min(zip(nodes, counts, strict=True), key=lambda pair: pair[0].score(int(pair[1])))
        return best.name

    def place(self, public_id: str) -> str:
        """The node of *public_id*: its placement if that node is alive, else the least-loaded live node (stored so
        that every app node uses the same one). Raises :class:`NoMediaNode`."""
        current = self.placement(public_id)
        if current is not None and self.alive(current):
            self.redis.expire(self.place_key(public_id), PLACEMENT_TTL_S)
            return current
        # choosing and counting the choice as load are one step for all app nodes (sessions offering at once would
        # otherwise all read the same load and land on one node); without the lock in time, place anyway
        lock = self.redis.lock(f"{self.prefix}:placing", timeout=PLACING_LOCK_S, sleep=0.005,
                               blocking_timeout=PLACING_LOCK_S)
        held = lock.acquire()
        try:
            chosen = self.least_loaded()
            stored = self._replace(keys=[self.place_key(public_id)], args=[current or "", chosen, PLACEMENT_TTL_S])
            stored = stored.decode() if isinstance(stored, bytes) else stored
            if stored == chosen:
                self.redis.zadd(self.recent_key(chosen), {public_id: time.time()})
                self.redis.expire(self.recent_key(chosen), int(RECENT_S) + 1)
                return chosen
        finally:
            if held:
                with contextlib.suppress(LockError):
                    lock.release()
        # another app node placed (or re-placed) it meanwhile: use its choice if that node lives, else try again
        return stored if self.alive(stored) else self.place(public_id)

    def placed_alive(self, public_id: str) -> str | None:
        """The node *public_id* is placed on if it is alive; never places."""
        current = self.placement(public_id)
        return current if current is not None and self.alive(current) else None

    def forget(self, public_id: str) -> None:
        self.redis.delete(self.place_key(public_id))
