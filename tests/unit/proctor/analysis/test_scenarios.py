"""The whole per-session pipeline (analyser + voice activity + incidents, default profile) on the test clips.

Each scenario clip must start its incident within the kind's hold time + 1 s of media time after the condition
began (identity: after the detector could have decided), and nothing else; the clean clips must raise nothing.
Frames go in as the engine hands them over: I420 (BT.601 limited range) at the profile's 3 frames/s, at a sampling
phase that does not line up with the clip's frames.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config import DEFAULT_PROCTORING_PROFILE
from proctor.analysis import FindingKind
from proctor.proctoring import IncidentEvent, SessionAnalysis
from tests.components import require
from tests.media import clips

PROFILE = DEFAULT_PROCTORING_PROFILE
#: Sampling phase: the engine's samples fall anywhere between the camera's frames.
PHASE_S = 0.047


def run_clip(clip: clips.Clip, seconds: float | None = None, offset_s: float = PHASE_S) -> list[IncidentEvent]:
    session = SessionAnalysis(PROFILE, clock=lambda: 0.0)
    if clip.id_photo:
        assert session.set_reference(clips.id_photo_jpeg(clip.id_photo)).ok
    events: list[IncidentEvent] = []
    last = 0.0
    for t, frame in clip.samples(PROFILE.sample_fps, offset_s, seconds):
        events += session.frame(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420), t, "yuv420p")
        last = t
    closing, _ = session.stop(last)
    return events + closing


def allowed_delay(kind: str) -> float:
    """Hold time + 1 s; identity needs its minimum number of comparisons first."""
    delay = PROFILE.rule(kind).hold_s + 1.0
    if kind.startswith("identity"):
        delay += (PROFILE.identity.min_samples - 1) * PROFILE.identity.interval_s
    return delay


@pytest.mark.parametrize("name", clips.SCENARIO_CLIPS)
def test_each_scenario_starts_its_incident_in_time_and_nothing_else(name):
    clip = clips.CLIPS[name]
    truth = clip.truth
    events = run_clip(clip)
    starts = [e for e in events if e.phase == "start"]
    assert [e.kind.value for e in starts] == [truth.kind], [(e.kind.value, e.at_s) for e in starts]
    start = starts[0]
    assert truth.start_s <= start.at_s <= truth.start_s + allowed_delay(truth.kind)
    assert start.snapshot_jpeg is not None
    if start.kind is FindingKind.IDENTITY_MISMATCH:
        return  # a median over comparisons: it holds from when it was decided
    # the incident's range begins where the condition began (never before it, at most a sample or so after)
    assert truth.start_s - 0.05 <= start.start_s <= truth.start_s + 1.0


@pytest.mark.parametrize("name", clips.CLEAN_CLIPS)
def test_clean_clips_raise_nothing_over_a_minute(name):
    # the clip loops as Chromium's fake camera loops it
    assert run_clip(clips.CLIPS[name], seconds=60.0) == []


def test_the_identity_check_on_the_clean_clips_says_match():
    for name in clips.CLEAN_CLIPS:
        clip = clips.CLIPS[name]
        session = SessionAnalysis(PROFILE)
        session.set_reference(clips.id_photo_jpeg(clip.id_photo))
        for t, frame in clip.samples(PROFILE.sample_fps, PHASE_S, 12.0):
            session.frame(frame, t, "bgr24")
        assert session.analyzer.identity_verdict().decision == "match", name


def test_a_blurred_or_faceless_id_photo_is_not_used_as_reference():
    session = SessionAnalysis(PROFILE)
    blurred = cv2.GaussianBlur(clips.astronaut(), (0, 0), 12)
    _, jpeg = cv2.imencode(".jpg", blurred)
    result = session.set_reference(jpeg.tobytes())
    assert not result.ok and "blurred" in result.problems
    _, jpeg = cv2.imencode(".jpg", clips.empty_room())
    assert session.set_reference(jpeg.tobytes()).problems == ("no_face",)
    with pytest.raises(ValueError):
        session.set_reference(b"GIF89a not a photo")


@pytest.fixture(scope="module")
def speech_audio():
    require(clips.espeak_available(), "espeak-ng", "apt-get install espeak-ng (see .ci/system-deps.sh)")
    return clips.speech_in_quiet_pcm()


def run_audio(pcm, quiet: bool) -> tuple[list[IncidentEvent], list]:
    session = SessionAnalysis(PROFILE, clock=lambda: 0.0)
    events, segments = [], []
    if quiet:
        events += session.set_quiet_phase(True, 0.0)
    last = 0.0
    for t, frame in clips.pcm_frames(pcm):
        result = session.audio(frame, t)
        events += result.events
        segments += result.segments
        last = t
    closing, tail = session.stop(last)
    return events + closing, segments + list(tail)


def test_speech_in_a_quiet_phase_is_an_incident_in_time(speech_audio):
    pcm, truth = speech_audio
    events, segments = run_audio(pcm, quiet=True)
    starts = [e for e in events if e.phase == "start"]
    assert [e.kind for e in starts] == [FindingKind.SPEECH_IN_QUIET]
    assert truth <= starts[0].at_s <= truth + allowed_delay("speech_in_quiet")
    assert abs(starts[0].start_s - truth) < 0.2
    assert [e.phase for e in events] == ["start", "clear"]
    assert segments and abs(segments[0].start_s - truth) < 0.2  # the speech track is kept either way


def test_speech_outside_a_quiet_phase_is_only_a_speech_segment(speech_audio):
    pcm, _ = speech_audio
    events, segments = run_audio(pcm, quiet=False)
    assert events == [] and segments


def test_room_hum_in_a_quiet_phase_raises_nothing():
    events, segments = run_audio(clips.hum_pcm(20.0, level=0.1), quiet=True)
    assert events == [] and segments == []


def test_an_id_photo_declaring_a_huge_picture_is_refused_before_decoding():
    import struct
    import zlib

    def png(width: int, height: int) -> bytes:
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        chunk = lambda kind, data: (  # noqa: E731
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b"")
        )

    session = SessionAnalysis(PROFILE)
    with pytest.raises(ValueError, match="larger than 8192 px"):
        session.set_reference(png(60_000, 60_000))  # a few bytes that would decode to 10 GB
    with pytest.raises(ValueError, match="larger than 8 MiB"):
        session.set_reference(b"\xff\xd8\xff" + b"\0" * (8 * 1024 * 1024))
    assert session.reference is None


def test_the_sequence_clip_starts_each_of_its_incidents_in_time_and_nothing_else():
    # the one fake webcam of tests/e2e/test_proctoring_findings.py: its conditions in turn, each clearing before
    # the next; twice through (as Chromium loops it), every condition starts again on the second pass - the loop
    # earlier: the whole file is a replay then (its moving stretch matches the one 80 s before, within the 120 s
    # history), so it starts with the second pass's moving stretch
    clip = clips.CLIPS["sequence"]
    events = run_clip(clip, seconds=2 * clips.SEQUENCE_S)
    starts = [e for e in events if e.phase == "start"]
    got = [(e.kind.value, round(e.at_s, 2), round(e.start_s, 2)) for e in starts]
    expected = [(t.kind, t.start_s) for t in clips.SEQUENCE_TRUTHS]
    expected += [(t.kind, clips.SEQUENCE_S + (55.0 if t.kind == "looped" else t.start_s))
                 for t in clips.SEQUENCE_TRUTHS]
    assert len(starts) == len(expected), got
    for (kind, t0), event in zip(sorted(expected, key=lambda x: x[1]), starts, strict=True):
        assert event.kind.value == kind, (kind, t0, got)
        assert t0 <= event.at_s <= t0 + allowed_delay(kind), (kind, t0, got)
        assert t0 - 0.05 <= event.start_s <= t0 + 1.0, (kind, t0, got)


def test_the_still_black_of_a_covered_camera_is_not_frozen_once_uncovered():
    # through VP8 a black picture is the same frame again and again: the frozen detector sees it as still, but the
    # camera was covered (an incident of its own); once uncovered, that stillness must not be reported as frozen
    session = SessionAnalysis(PROFILE, clock=lambda: 0.0)
    events = []
    ordinary = clips.CLIPS["ordinary"]
    black = cv2.cvtColor(np.full((clips.HEIGHT, clips.WIDTH, 3), 4, np.uint8), cv2.COLOR_BGR2YUV_I420)
    t = 0.0
    while t < 20.0:
        frame = black if 5.0 <= t < 11.0 else cv2.cvtColor(ordinary.frame(t), cv2.COLOR_BGR2YUV_I420)
        events += session.frame(frame, t, "yuv420p")
        t += 1 / 3
    assert [e.kind.value for e in events if e.phase == "start"] == ["camera_covered"]
