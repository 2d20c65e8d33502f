"""When did it begin? The frozen and looped detectors date a condition from their evidence, not from when they
became sure (an incident's range must not start before the condition, nor long after it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from proctor.analysis.signals import FrozenDetector, LoopDetector
from proctor.proctoring import SessionAnalysis
from tests.media import clips


def gray(value: float) -> np.ndarray:
    rng = np.random.default_rng(int(value * 1000))
    return np.clip(128 + rng.normal(0, 20, (24, 32)), 0, 255).astype(np.uint8)


def test_a_still_stretch_is_dated_from_its_first_still_difference_across_short_bursts():
    det = FrozenDetector(min_age_s=0.5, window_s=3.0)
    still = gray(0.0)
    for k in range(10):  # 0 .. 4.5 s live
        det.update(k * 0.5, gray(k + 1))
    for k in range(10, 30):  # frozen from 5.0 s, with one refresh burst at 8.0 s
        det.update(k * 0.5, gray(99) if k == 16 else still)
    # the first still difference is at 5.5 s (5.0 against 5.5 would be the first pair of still frames)
    assert det.is_frozen()
    assert det.still_since() == pytest.approx(5.0)


def test_a_long_run_of_change_ends_the_still_stretch():
    det = FrozenDetector(min_age_s=0.5, window_s=3.0)
    still = gray(0.0)
    for k in range(10):
        det.update(k * 0.5, still)  # still at first
    for k in range(10, 14):
        det.update(k * 0.5, gray(k))  # 2 s of live picture
    for k in range(14, 24):
        det.update(k * 0.5, still)
    assert det.still_since() == pytest.approx(7.0)  # not 0.0: the live part in between ended the first stretch


def test_a_replay_is_dated_from_the_first_matching_sample():
    det = LoopDetector(min_lag_s=3.0, min_run=6)
    rng = np.random.default_rng(5)
    scene = np.clip(128 + rng.normal(0, 20, (24, 100)), 0, 255).astype(np.uint8)
    frames = [scene[:, 2 * k : 2 * k + 32] for k in range(20)]  # a steady pan: motion every sample, no repeat
    found = None
    for k in range(40):  # the 20-sample pan played twice (0.25 s apart: a 5 s loop)
        found = det.update(k * 0.25, frames[k % 20]) or found
    assert found is not None and found.lag_s == pytest.approx(5.0)
    assert det.run_start_s == pytest.approx(5.0)


@pytest.mark.slow
def test_a_frozen_camera_through_vp8_is_found_and_dated_after_the_encoder_settles():
    from tests.media import vp8

    pytest.importorskip("av")
    clip = clips.CLIPS["frozen"]
    decoded = vp8.roundtrip((clip.frame(i / 30) for i in range(450)), 1_000_000)
    session = SessionAnalysis(clock=lambda: 0.0)
    events = []
    for k in range(44):
        t = k / 3 + 0.057
        events += session.frame(decoded[math.floor(t * 30)], t, "yuv420p")
    starts = [e for e in events if e.phase == "start"]
    assert [e.kind.value for e in starts] == ["frozen"]
    # VP8 keeps refining the still picture for about a second after it froze at 5.0 s
    assert 5.0 <= starts[0].start_s <= 6.5
    assert starts[0].at_s - starts[0].start_s == pytest.approx(4.0, abs=0.4)
