"""IncidentTracker: hold, coalesce, repeat, clear, stop; quiet phase and speech; snapshots; deterministic."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from proctor.analysis import FindingKind, FrameAnalyzer, Severity
from proctor.proctoring import IncidentSettings, IncidentTracker, KindSettings

K = FindingKind


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def tracker(**kinds: KindSettings) -> IncidentTracker:
    settings = IncidentSettings(kinds={K(k): v for k, v in kinds.items()}) if kinds else IncidentSettings()
    return IncidentTracker(settings, clock=Clock())


def feed(tr: IncidentTracker, kind: FindingKind, pattern: str, step: float = 0.5, t0: float = 0.0, value=1.0):
    """``pattern``: one character per sample, '#' the condition holds, '.' it does not."""
    out = []
    for i, c in enumerate(pattern):
        out += tr.observe(kind, c == "#", t0 + i * step, value)
    return out


def test_a_condition_shorter_than_its_hold_time_is_no_incident():
    tr = tracker(no_face=KindSettings(hold_s=3.0, clear_s=2.0))
    assert feed(tr, K.NO_FACE, "#####.....#####.") == []  # 2.5 s at most


def test_an_incident_starts_once_held_for_the_hold_time_and_dates_from_the_condition_start():
    tr = tracker(no_face=KindSettings(hold_s=3.0, clear_s=2.0))
    events = feed(tr, K.NO_FACE, "..########", value=0.0)
    assert [(e.phase, e.at_s, e.start_s, e.end_s) for e in events] == [("start", 4.0, 1.0, 4.0)]
    e = events[0]
    assert e.kind is K.NO_FACE and e.severity is Severity.WARNING and e.incident_id == 1 and e.occurrences == 1
    assert e.at_utc == 1_800_000_000.0 and "Wajah peserta" in e.message_id and "face" in e.message_en


def test_a_detector_that_knows_the_condition_began_earlier_starts_the_incident_at_once():
    tr = tracker(frozen=KindSettings(hold_s=4.0, clear_s=2.0))
    events = tr.observe(K.FROZEN, True, 9.0, 4.0, since=5.0)
    assert [(e.phase, e.start_s, e.at_s) for e in events] == [("start", 5.0, 9.0)]
    assert tr.observe(K.FROZEN, True, 3.0, 4.0) == []  # older than what was seen: ignored


def test_comebacks_within_the_clear_time_are_one_incident_and_the_clear_says_where_it_was_last_seen():
    tr = tracker(multiple_faces=KindSettings(hold_s=1.0, clear_s=2.0, repeat_s=0))
    #            t: 0 . 1 . 2 . 3 . 4 . 5 . 6 . 7 . 8
    pattern = "###..##.###......"
    events = []
    for i, c in enumerate(pattern):
        events += tr.observe(K.MULTIPLE_FACES, c == "#", i * 0.5, 2.0 + i)  # value grows to check min/max
    assert [e.phase for e in events] == ["start", "clear"]
    start, clear = events
    assert start.at_s == 1.0 and start.start_s == 0.0
    assert clear.reason == "cleared" and clear.occurrences == 3
    assert clear.end_s == 5.0 and clear.at_s == 7.5  # last seen at 5.0, seen absent from 5.5, for 2 s at 7.5
    assert clear.incident_id == start.incident_id
    assert (clear.min_value, clear.max_value) == (4.0, 12.0)


def test_a_long_incident_is_repeated_and_a_later_one_is_a_new_incident():
    tr = tracker(no_face=KindSettings(hold_s=1.0, clear_s=1.0, repeat_s=10.0))
    events = feed(tr, K.NO_FACE, "#" * 50 + "..." + "####", step=0.5)
    assert [(e.phase, e.at_s, e.incident_id) for e in events] == [
        ("start", 1.0, 1),
        ("repeat", 11.0, 1),
        ("repeat", 21.0, 1),
        ("clear", 26.0, 1),
        ("start", 27.5, 2),
    ]
    assert events[1].start_s == 0.0 and events[1].end_s == 11.0


def test_kinds_not_enabled_raise_nothing():
    tr = tracker(no_face=KindSettings(enabled=False))
    assert feed(tr, K.NO_FACE, "#" * 20) == []
    assert feed(tr, K.CAMERA_COVERED, "#" * 20) == []  # not listed at all


def test_stop_closes_open_incidents_as_stopped_and_forgets_pending_ones():
    tr = tracker(no_face=KindSettings(hold_s=1.0), camera_covered=KindSettings(hold_s=5.0))
    feed(tr, K.NO_FACE, "####")
    feed(tr, K.CAMERA_COVERED, "####")
    events = tr.stop(2.0)
    assert [(e.kind, e.phase, e.reason, e.end_s) for e in events] == [(K.NO_FACE, "clear", "stopped", 1.5)]
    assert tr.open_incidents() == []


def test_speech_is_an_incident_only_in_a_quiet_phase():
    tr = tracker(speech_in_quiet=KindSettings(hold_s=1.0, clear_s=2.0))
    assert tr.observe_speech(True, 1.0, since=0.5) == []
    assert tr.observe_speech(True, 3.0) == []  # talking freely outside a quiet phase
    assert tr.observe_speech(False, 3.5) == []
    assert tr.set_quiet_phase(True, 10.0) == []
    assert tr.quiet
    assert tr.observe_speech(True, 12.0, since=11.8) == []
    events = tr.observe_speech(True, 12.8)
    assert [(e.kind, e.phase, e.start_s) for e in events] == [(K.SPEECH_IN_QUIET, "start", 11.8)]
    assert events[0].value == pytest.approx(1.0) and events[0].severity is Severity.WARNING
    assert "fase tenang" in events[0].message_id
    # the quiet phase ends while the candidate is still talking: the incident ends where the quiet phase ended
    assert tr.set_quiet_phase(False, 14.0) == []
    events = tr.observe_speech(True, 16.0)
    assert [(e.phase, e.end_s) for e in events] == [("clear", 12.8)]


def test_speech_that_began_before_the_quiet_phase_counts_from_the_quiet_phase():
    tr = tracker(speech_in_quiet=KindSettings(hold_s=1.0))
    tr.observe_speech(True, 5.0, since=2.0)
    tr.set_quiet_phase(True, 6.0)
    events = tr.observe_speech(True, 7.0)
    assert [(e.phase, e.start_s) for e in events] == [("start", 6.0)]


def test_observe_frame_takes_every_video_condition_and_a_small_snapshot(non_faces, rng):
    analyzer = FrameAnalyzer()
    tr = tracker(no_face=KindSettings(hold_s=1.0))
    events = []
    for i in range(10):
        noisy = np.clip(non_faces["coffee"].astype(np.int16) + rng.normal(0, 3, (400, 600, 3)), 0, 255)
        observation = analyzer.analyze(noisy.astype(np.uint8), i * 0.2)
        events += tr.observe_frame(observation)
    assert [(e.kind, e.phase) for e in events] == [(K.NO_FACE, "start")]
    jpeg = events[0].snapshot_jpeg
    assert jpeg is not None and jpeg[:3] == b"\xff\xd8\xff"
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] == 320 and len(jpeg) < 40_000
    d = events[0].to_dict()
    assert d["has_snapshot"] is True and d["kind"] == "no_face" and d["phase"] == "start"
    json.dumps(d)  # plain data


def test_snapshot_is_taken_only_when_an_incident_starts():
    calls = []
    tr = tracker(no_face=KindSettings(hold_s=1.0, repeat_s=1.0))
    for i in range(10):
        tr.observe(K.NO_FACE, True, i * 0.5, snapshot=lambda: calls.append(1) or b"jpeg")
    assert len(calls) == 1


def test_default_settings_come_from_the_default_profile():
    rules = IncidentSettings().kinds
    assert rules[K.NO_FACE].hold_s == 3.0 and rules[K.MULTIPLE_FACES].hold_s == 1.0
    assert rules[K.FROZEN].hold_s == 4.0 and rules[K.SPEECH_IN_QUIET].enabled
    assert set(rules) == set(FindingKind)
