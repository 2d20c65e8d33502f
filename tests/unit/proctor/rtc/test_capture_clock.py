"""The capture clock maps RTP timestamps onto the server's clock at the least transit delay seen."""

from __future__ import annotations

import itertools
import random

from proctor.rtc.capture_clock import CaptureClock


def test_jittered_arrivals_map_to_the_regular_capture_times() -> None:
    rng = random.Random(7)
    clock = CaptureClock()
    base, mapped = 1000.0, []
    for i in range(300):  # 10 s at 30 fps, transit 40 ms + up to 300 ms of jitter
        capture = base + i / 30
        arrival = capture + 0.04 + rng.uniform(0.0, 0.3)
        mapped.append(clock.map(int(i * 3000), arrival))
    steps = [b - a for a, b in itertools.pairwise(mapped[100:])]
    # once quick frames have been seen, consecutive frames are 1/30 s apart (within the few ms by which a still
    # quicker frame moves the mapping) whatever the 300 ms of arrival jitter
    assert max(abs(s - 1 / 30) for s in steps) < 0.01, steps
    # and the mapped time is the capture plus the least transit seen (40 ms and a little)
    assert all(0.039 < m - (base + (i + 100) / 30) < 0.06 for i, m in enumerate(mapped[100:]))


def test_never_later_than_the_arrival_and_the_arrival_without_a_timestamp() -> None:
    clock = CaptureClock()
    assert clock.map(None, 5.0) == 5.0
    assert clock.map(0, 10.0) == 10.0
    assert clock.map(90_000, 11.5) <= 11.5


def test_a_new_timeline_or_a_stall_starts_the_mapping_again() -> None:
    clock = CaptureClock()
    for i in range(30):
        clock.map(i * 3000, 100.0 + i / 30 + 0.05)
    # the sender restarted its RTP clock (a reconnect): timestamps go back
    assert abs(clock.map(0, 120.0) - 120.0) < 1e-9 and clock.resets == 1
    # frames arriving 5 s later than the mapping says: a stall, not capture time
    clock.map(3000, 120.04)
    assert abs(clock.map(6000, 125.5) - 125.5) < 1e-9 and clock.resets == 2
    # a jump of the timestamps far beyond the time that passed: a new stream
    assert abs(clock.map(6000 + 90_000 * 60, 126.0) - 126.0) < 1e-9 and clock.resets == 3


def test_a_sender_clock_slower_than_the_server_does_not_fall_behind() -> None:
    clock = CaptureClock()
    drift = 200e-6  # the sender's clock runs 200 ppm slow: its timestamps fall behind the server by 0.72 s an hour
    last = 0.0
    for i in range(0, 3600 * 30, 30):  # one frame a second for an hour
        capture_true = i / 30
        last = clock.map(int(capture_true * (1 - drift) * 90_000), 50.0 + capture_true + 0.03)
    assert abs(last - (50.0 + 3599 + 0.03)) < 0.1
