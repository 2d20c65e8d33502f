"""The live proctoring hub stops cleanly: a KTP snapshot still being read when it stops is waited for and dropped,
so nothing of the hub touches the database afterwards and no new analysis pool starts (it did: the late reader asked
for ``self.pool``, which starts one, after the app had stopped; in CI such a thread reached a dropped database)."""

from __future__ import annotations

import threading

from remote_tuk.proctoring.runner import LiveProctoring


class _NoProfileDb:
    """A database session in which no scheme has a stored profile (the default applies), and that counts its use."""

    def __init__(self, uses: list[str]) -> None:
        self.uses = uses

    def __enter__(self) -> _NoProfileDb:
        self.uses.append("db")
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def scalar(self, _query: object) -> None:
        return None

    def execute(self, *_a: object, **_k: object):
        raise RuntimeError("not a real database")


def test_a_snapshot_read_when_the_hub_stops_is_waited_for_and_dropped():
    uses: list[str] = []
    hub = LiveProctoring(lambda: _NoProfileDb(uses), lambda: None, lambda *a: None)
    reading, release = threading.Event(), threading.Event()

    def ktp() -> bytes:
        reading.set()
        assert release.wait(10)
        return b"not read: the hub stopped"

    assert hub.open("S1", ktp=ktp)
    assert reading.wait(10)
    pool = hub._pool
    assert pool is not None and pool._threads
    stopper = threading.Thread(target=hub.stop)
    stopper.start()
    stopper.join(0.5)
    assert stopper.is_alive(), "stop returned while the snapshot was still being read"
    before = len(uses)
    release.set()
    stopper.join(10)
    assert not stopper.is_alive()
    assert hub._pool is None  # no new pool was started by the late reader
    assert len(uses) == before  # and it recorded nothing
    assert not [t for t in threading.enumerate() if t.name == "proctor-reference"]


def test_a_snapshot_read_after_the_session_closed_is_dropped():
    uses: list[str] = []
    hub = LiveProctoring(lambda: _NoProfileDb(uses), lambda: None, lambda *a: None)
    release = threading.Event()

    def ktp() -> None:  # no snapshot: would be recorded as "ktp_unavailable" if the analysis were still open
        release.wait(10)

    assert hub.open("S1", ktp=ktp)
    hub.close("S1")
    before = len(uses)
    release.set()
    hub.stop()
    assert len(uses) == before  # "ktp_unavailable" is not recorded for an analysis that closed
