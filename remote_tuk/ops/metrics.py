"""Prometheus metrics of one node (``/metrics``), read at scrape time from the database, the media engine and the
evidence store, plus the evidence append latency measured as appends happen.

Each app gets its own registry (tests build many apps in one process). Metric names are listed in
docs/DEPLOYMENT.md; a figure this node cannot know is not exported rather than exported as zero.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from remote_tuk.assessment.models import AssessmentSession, SessionState

log = logging.getLogger(__name__)

#: Evidence appends take ~1 ms (small entries) to seconds (large chunks, object store far away).
APPEND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Lag between a frame arriving and its analysis finishing (fed by the media nodes; see docs/DEPLOYMENT.md).
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class NodeMetrics:
    """The registry of one app and the instruments that are fed as things happen."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.registry = CollectorRegistry(auto_describe=True)
        self.append_seconds = Histogram(
            "rtuk_evidence_append_seconds",
            "Time until an evidence append is acknowledged (durable), by outcome.",
            ["outcome"],
            buckets=APPEND_BUCKETS,
            registry=self.registry,
        )
        self.analysis_lag_seconds = Histogram(
            "rtuk_analysis_lag_seconds",
            "Time from a sampled frame's capture to its analysis result, on the node that analyses it (the app "
            "node, or the media node with RTUK_MEDIA_NODES=redis). A count of 0: no frame analysed here.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )

    def timed_append(self, append: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap an evidence store's ``append`` so that every call is observed (ok / error)."""

        @functools.wraps(append)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outcome = "error"
            try:
                receipt = append(*args, **kwargs)
                outcome = "spooled" if getattr(receipt, "spooled", False) else "stored"
                return receipt
            finally:
                self.append_seconds.labels(outcome).observe(time.perf_counter() - started)

        return timed


def sessions_by_state(db: Any) -> dict[str, int]:
    """Number of assessment sessions in each state (every state, zeros included)."""
    rows = db.execute(select(AssessmentSession.state, func.count()).group_by(AssessmentSession.state)).all()
    counts = {state.value: n for state, n in rows}
    return {state.value: counts.get(state.value, 0) for state in SessionState}


class StateCollector(Collector):
    """Gauges read at scrape time from the app's database extension, media hub and evidence holder."""

    def __init__(self, node: str, db: Any, media: Any, evidence: Any) -> None:
        self.node, self.db, self.media, self.evidence = node, db, media, evidence

    def describe(self) -> list[Any]:
        return []  # nothing is read when the collector is registered (the app is still being built then)

    def collect(self) -> Iterator[Any]:
        info = InfoMetricFamily("rtuk_node", "This app node.")
        info.add_metric([], {"node": self.node})
        yield info
        yield from self._sessions()
        yield from self._media()
        yield from self._evidence()

    def _sessions(self) -> Iterator[Any]:
        try:
            with self.db.new_session() as s:
                counts = sessions_by_state(s)
        except Exception:  # the database being away shows in /readyz; no made-up figure here
            log.warning("metrics: sessions by state not read", exc_info=True)
            return
        family = GaugeMetricFamily(
            "rtuk_sessions", "Assessment sessions by state (the whole installation: the same on every node).",
            labels=["state"],
        )
        for state, n in counts.items():
            family.add_metric([state], n)
        yield family

    def _media(self) -> Iterator[Any]:
        live = GaugeMetricFamily("rtuk_media_sessions", "Sessions with media in this node's engine.")
        if not self.media.running:
            live.add_metric([], 0)
            yield live
            return
        engine = self.media.engine
        ids = engine.session_ids()
        live.add_metric([], len(ids))
        yield live
        bitrate = GaugeMetricFamily(
            "rtuk_media_inbound_bitrate_bps",
            "Candidates' media arriving at this node, bits per second over the engine's 2 s window.",
            labels=["kind"],
        )
        totals = {"video": 0.0, "audio": 0.0}
        for sid in ids:
            try:
                candidate = engine.stats(sid).get("candidate") or {}
            except Exception:  # the session ended between listing and asking
                log.debug("metrics: no stats for %s", sid, exc_info=True)
                continue
            for kind in totals:
                totals[kind] += float((candidate.get(kind) or {}).get("bitrate_bps") or 0.0)
        for kind, bps in totals.items():
            bitrate.add_metric([kind], bps)
        yield bitrate

    def _evidence(self) -> Iterator[Any]:
        try:
            depth = self.evidence.store.spool_depth()
        except Exception:
            log.warning("metrics: evidence spool depth not read", exc_info=True)
            return
        spool = GaugeMetricFamily(
            "rtuk_evidence_spool_depth",
            "Evidence objects kept in this node's local spool until the object store takes them.",
        )
        spool.add_metric([], depth)
        yield spool
