"""FrameAnalyzer: sampled frames with timestamps in, debounced typed findings out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from proctor.analysis import AnalyzerConfig, FindingKind, FrameAnalyzer, Severity, extract_embedding, make_finding

from .images import LFW_SAME_PERSON, bgr_to_i420, lfw_face, panning_clip, with_noise


def run(analyzer: FrameAnalyzer, frames, fps: float = 5.0, t0: float = 0.0, fmt: str = "bgr24"):
    """Feed frames at ``fps``; return every finding raised."""
    out = []
    for i, frame in enumerate(frames):
        out.extend(analyzer.submit(frame, t0 + i / fps, fmt))
    return out


def kinds(findings) -> list[FindingKind]:
    return [f.kind for f in findings]


def live(frame: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    return [with_noise(frame, rng) for _ in range(n)]


def test_a_good_live_face_raises_nothing(face_frame, rng):
    analyzer = FrameAnalyzer()
    assert run(analyzer, live(face_frame, rng, 40)) == []
    s = analyzer.last_signals
    assert s.face_count == 1 and not s.covered and s.brightness > 60 and (s.width, s.height) == (640, 480)


def test_black_frames_are_a_covered_camera_only(rng):
    black = np.zeros((480, 640, 3), np.uint8)
    findings = run(FrameAnalyzer(), live(black, rng, 20))  # 4 s
    assert kinds(findings) == [FindingKind.CAMERA_COVERED]
    f = findings[0]
    assert f.severity is Severity.ALERT
    assert f.time == pytest.approx(2.0) and f.since == pytest.approx(0.0)
    assert "Kamera tertutup" in f.message_id and "covered" in f.message_en


def test_no_face_after_three_seconds_and_repeated_while_it_lasts(non_faces, rng):
    analyzer = FrameAnalyzer(AnalyzerConfig(repeat_s=10.0))
    findings = run(analyzer, live(non_faces["coffee"], rng, 80))  # 16 s
    no_face = [f for f in findings if f.kind is FindingKind.NO_FACE]
    assert [round(f.time, 1) for f in no_face] == [3.0, 13.0]
    assert FindingKind.NO_FACE in analyzer.active()


def test_condition_clears_when_the_face_returns(face_frame, non_faces, rng):
    analyzer = FrameAnalyzer()
    run(analyzer, live(non_faces["coffee"], rng, 20))
    assert FindingKind.NO_FACE in analyzer.active()
    run(analyzer, live(face_frame, rng, 5), t0=4.0)
    assert FindingKind.NO_FACE not in analyzer.active()


def test_two_faces(face_frame, rng):
    findings = run(FrameAnalyzer(), live(np.hstack([face_frame, face_frame]), rng, 10))
    multiple = [f for f in findings if f.kind is FindingKind.MULTIPLE_FACES]
    assert len(multiple) == 1 and multiple[0].value == 2
    assert "lebih dari satu wajah (2)" in multiple[0].message_id


def test_face_turned_away(cameraman, rng):
    findings = run(FrameAnalyzer(), live(cameraman, rng, 20))
    turned = [f for f in findings if f.kind is FindingKind.FACE_TURNED_AWAY]
    assert len(turned) == 1 and turned[0].value > 40


def test_too_dark(face_frame, rng):
    dark = cv2.convertScaleAbs(face_frame, alpha=0.3)
    findings = run(FrameAnalyzer(), live(dark, rng, 20))
    assert kinds(findings) == [FindingKind.TOO_DARK]
    assert findings[0].value < 60 and findings[0].severity is Severity.INFO


def test_blurred(face_frame, rng):
    blurred = cv2.GaussianBlur(face_frame, (0, 0), 9)
    findings = run(FrameAnalyzer(), live(blurred, rng, 20))
    assert FindingKind.BLURRED in kinds(findings)


def test_frozen_picture(face_frame):
    findings = run(FrameAnalyzer(), [face_frame] * 30)  # the same picture for 6 s
    frozen = [f for f in findings if f.kind is FindingKind.FROZEN]
    assert len(frozen) == 1
    assert frozen[0].time == pytest.approx(4.0)  # 1 s reference age + a full 3 s window
    assert frozen[0].since == pytest.approx(0.0)
    assert frozen[0].value == pytest.approx(4.0)


def test_looped_video(face_frame, rng):
    gray_clip = panning_clip(face_frame, 30, rng)
    findings = run(FrameAnalyzer(), gray_clip + [with_noise(f, rng) for f in gray_clip])
    looped = [f for f in findings if f.kind is FindingKind.LOOPED]
    assert len(looped) == 1
    assert looped[0].value == pytest.approx(6.0, abs=0.3)
    assert FindingKind.FROZEN not in kinds(findings)


def test_loop_of_any_length_is_found_within_a_few_replays(face_frame, rng):
    # a 30 fps source looping every 303 frames (10.1 s): the 5 fps samples of the replay fall between the recorded ones
    gray = cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY)
    source = [gray[:240, x : x + 320] for x in range(303)]
    analyzer = FrameAnalyzer()
    found = []
    for i, frame in enumerate(source * 4):
        found += analyzer.submit(with_noise(frame, rng), i / 30.0, "gray")
    looped = [f for f in found if f.kind is FindingKind.LOOPED]
    assert looped and looped[0].time < 3 * 10.1
    # the lag found is where the samples line up: the loop length or a multiple of it (here 2 x 10.1 s)
    repeats = looped[0].value / 10.1
    assert round(repeats) >= 1 and abs(looped[0].value - round(repeats) * 10.1) < 0.2


def test_samples_at_the_configured_rate(face_frame, rng):
    analyzer = FrameAnalyzer(AnalyzerConfig(sample_fps=5.0))
    frames = live(face_frame, rng, 60)  # 2 s at 30 fps
    run(analyzer, frames, fps=30.0)
    assert analyzer.sampled == 10
    assert analyzer.skipped == 50


def test_due_tells_the_caller_which_frames_to_convert(face_frame):
    analyzer = FrameAnalyzer(AnalyzerConfig(sample_fps=5.0))
    assert analyzer.due(0.0)
    analyzer.submit(face_frame, 0.0)
    assert not analyzer.due(0.1)
    assert analyzer.due(0.2)
    assert analyzer.due(-1.0)  # a new timeline


def test_clock_going_back_restarts_the_timeline(face_frame, non_faces, rng):
    analyzer = FrameAnalyzer()
    run(analyzer, live(non_faces["coffee"], rng, 10), t0=100.0)  # 2 s without a face at t=100
    assert run(analyzer, live(face_frame, rng, 10), t0=0.0) == []
    assert analyzer.sampled == 20
    findings = run(analyzer, live(non_faces["coffee"], rng, 20), t0=2.0)  # a new absence on the new timeline
    assert [(f.kind, f.time) for f in findings] == [(FindingKind.NO_FACE, pytest.approx(5.0))]


def test_i420_input(non_faces, rng):
    frames = [bgr_to_i420(f) for f in live(non_faces["coffee"][:400, :600], rng, 20)]
    findings = run(FrameAnalyzer(), frames, fmt="yuv420p")
    assert kinds(findings) == [FindingKind.NO_FACE]


def test_same_person_as_the_id_photo_raises_nothing(face_frame, rng):
    reference = extract_embedding(face_frame)
    analyzer = FrameAnalyzer(AnalyzerConfig(match_interval_s=1.0), reference=reference.vector)
    assert run(analyzer, live(face_frame, rng, 30)) == []
    verdict = analyzer.identity_verdict()
    assert verdict.decision == "match" and verdict.samples >= 3


def test_another_person_than_the_id_photo_is_flagged_for_a_human(face_frame, rng):
    reference = extract_embedding(lfw_face(LFW_SAME_PERSON[0]))
    analyzer = FrameAnalyzer(AnalyzerConfig(match_interval_s=1.0), reference=reference.vector)
    findings = run(analyzer, live(face_frame, rng, 30))
    assert kinds(findings) == [FindingKind.IDENTITY_MISMATCH]
    f = findings[0]
    assert f.severity is Severity.ALERT and f.value < 0.25
    assert "Asesor perlu memeriksa" in f.message_id
    assert analyzer.identity_verdict().decision == "mismatch"


def test_at_3_frames_per_second_the_identity_warm_up_compares_every_sample(face_frame, rng):
    # samples on the capture grid, 1/3 s apart from an arbitrary origin (the sums are not exact in floating point);
    # the warm-up's 0.5 s must still be every sample, and the first verdict comes with the third one
    reference = extract_embedding(lfw_face(LFW_SAME_PERSON[0]))
    analyzer = FrameAnalyzer(AnalyzerConfig(sample_fps=3.0), reference=reference.vector)
    findings = run(analyzer, live(face_frame, rng, 12), fps=3.0, t0=1234.567)
    (mismatch,) = [f for f in findings if f.kind is FindingKind.IDENTITY_MISMATCH]
    assert mismatch.time == pytest.approx(1234.567 + 2 / 3)
    assert analyzer.identity_verdict().samples == 4  # 3 warm-up comparisons, then one 3 s later (t0 + 3.667)


def test_finding_to_dict_is_plain_data():
    f = make_finding(FindingKind.TOO_DARK, 12.0, 41.4, since=9.0)
    d = f.to_dict()
    assert d["kind"] == "too_dark" and d["severity"] == "info" and d["since"] == 9.0
    assert f.duration == pytest.approx(3.0)
    assert "41" in d["message_id"] and "41" in d["message_en"]
