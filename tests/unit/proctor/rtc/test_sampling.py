"""The analysis samples on a grid of capture times (proctor/rtc/sampling.py)."""

from __future__ import annotations

import numpy as np
import pytest

from proctor.rtc.sampling import SampleGrid


def _sample(times: list[float], fps: float, busy: set[int] = frozenset()) -> list[int]:
    """Indices of the frames handed on; frames in *busy* find the analysis busy."""
    grid, taken = SampleGrid(), []
    for i, t in enumerate(times):
        if grid.due(t, fps) and i not in busy:
            grid.taken()
            taken.append(i)
    return taken


def test_a_30_fps_camera_is_sampled_every_tenth_frame_whatever_its_jitter():
    rng = np.random.default_rng(3)
    times = [i / 30 + float(rng.normal(0, 0.002)) for i in range(900)]  # 30 s, capture jitter 2 ms
    taken = _sample(times, 3.0)
    assert taken == list(range(0, 900, 10))  # 3.0 samples/s, the same frames of every 10 s of a replay


def test_the_frame_nearest_each_grid_point_is_taken():
    times = [i * 0.04 for i in range(250)]  # 25 fps for 10 s
    taken = _sample(times, 3.0)
    assert len(taken) == 30
    for k, i in enumerate(taken):
        assert abs(times[i] - k / 3) <= 0.02 + 1e-9  # within half a frame of its grid point


def test_arrival_order_jitter_does_not_lower_the_rate():
    # the old rule ("at least 1/fps after the previous sample") took the 11th frame whenever the 10th came early
    rng = np.random.default_rng(5)
    times = [i / 30 - abs(float(rng.normal(0, 0.003))) for i in range(3000)]
    assert len(_sample(times, 3.0)) == 300


def test_a_busy_analysis_delays_one_sample_and_keeps_the_grid():
    times = [i / 30 for i in range(61)]
    taken = _sample(times, 3.0, busy={10, 11})
    assert taken == [0, 12, 20, 30, 40, 50, 60]


def test_a_stall_keeps_the_grid_and_its_phase():
    times = [i / 30 for i in range(30)] + [5.1 + i / 30 for i in range(30)]  # 4.1 s without frames
    taken = _sample(times, 3.0)
    assert taken == [0, 10, 20, 37, 47, 57]  # 5.333, 5.667, 6.0: the grid of t=0 goes on
    assert [round(times[i] * 3, 6) % 1 for i in taken] == [0.0] * 6


def test_a_long_busy_spell_skips_grid_points_without_a_late_sample():
    times = [i / 30 for i in range(61)]
    taken = _sample(times, 3.0, busy=set(range(10, 25)))  # frame 25 is half an interval after the point at 20
    assert taken == [0, 30, 40, 50, 60]


def test_a_rate_change_starts_a_new_grid():
    grid = SampleGrid()
    assert grid.due(0.0, 3.0)
    grid.taken()
    assert not grid.due(0.1, 3.0)
    assert grid.due(0.1, 10.0)  # a new rate: a new grid from this frame


def test_a_clock_that_jumps_back_starts_a_new_grid():
    grid = SampleGrid()
    assert grid.due(100.0, 3.0)
    grid.taken()
    assert grid.due(10.0, 3.0)  # the capture clock restarted (a new stream)


@pytest.mark.parametrize("fps", [0.0, -1.0])
def test_no_rate_takes_no_frame(fps):
    grid = SampleGrid()
    assert not any(grid.due(i / 30, fps) for i in range(60))


def test_a_camera_slower_than_the_rate_gives_every_frame():
    times = [i * 0.5 for i in range(20)]  # 2 fps camera, 3 samples/s wanted
    assert _sample(times, 3.0) == list(range(20))
