"""Access changes reach the sockets of every app node (issue 12 #9).

The registry knows only this process's sockets. With ``RTUK_SOCKETIO_MESSAGE_QUEUE`` set (several nodes behind one
Redis), every node publishes the access changes it makes on a Redis channel and re-checks its own sockets for the
changes the other nodes publish. The channel name is derived from the secret key, which all nodes of one
installation share and no other installation has.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable

import redis

from remote_tuk.access import AccessChange

log = logging.getLogger(__name__)


def channel_for(secret_key: str) -> str:
    return "rtuk-access-" + hashlib.sha256(b"rtuk-access\0" + secret_key.encode()).hexdigest()[:16]


class Fanout:
    def __init__(self, url: str, channel: str, apply: Callable[[AccessChange], None]):
        self.channel = channel
        self.node = secrets.token_hex(8)
        self._apply = apply
        self._redis = redis.Redis.from_url(url)
        self._stopped = threading.Event()
        self._subscribed = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="rtuk-access-fanout", daemon=True)
        self._thread.start()

    def publish(self, change: AccessChange) -> None:
        """Tell the other nodes (a lost message leaves their sockets to be refused at their next event)."""
        message = {"node": self.node, "sign_ins": sorted(change.sign_ins), "sessions": sorted(change.sessions)}
        try:
            self._redis.publish(self.channel, json.dumps(message))
        except redis.RedisError:
            log.exception("could not publish an access change to the other nodes")

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def _listen(self) -> None:
        pubsub = None
        while not self._stopped.is_set():
            try:
                if pubsub is None:
                    pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.channel)
                    self._subscribed.set()
                message = pubsub.get_message(timeout=0.5)
                if message is not None:
                    self._handle(message.get("data"))
            except redis.RedisError:
                log.warning("access fan-out: Redis unavailable, retrying", exc_info=True)
                pubsub = None
                self._subscribed.clear()
                self._stopped.wait(1.0)
        if pubsub is not None:
            pubsub.close()

    def _handle(self, data: object) -> None:
        try:
            message = json.loads(data)  # type: ignore[arg-type]
            if message.get("node") == self.node:
                return  # our own change: already applied here
            change = AccessChange(
                frozenset(int(i) for i in message.get("sign_ins", [])),
                frozenset(str(s) for s in message.get("sessions", [])),
            )
        except (TypeError, ValueError, AttributeError):
            log.warning("access fan-out: ignored a malformed message")
            return
        try:
            self._apply(change)
        except Exception:  # a failed re-check must not end the listener
            log.exception("access fan-out: re-check failed")

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._redis.close()
