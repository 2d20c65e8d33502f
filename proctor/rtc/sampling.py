"""Which decoded frames the analysis gets: one per grid point of the wanted rate, on the capture clock.

The sampler used to take the first frame that arrived at least ``1/fps`` after the previous sample. With a camera
at 30 frames/s and 3 samples/s that is the 10th frame only when the 10th arrives no earlier than 333.3 ms after the
last sample; arrival jitter made it the 11th most of the time (measured in Chromium: a median of 0.365 s between
samples, 2.7 samples/s instead of 3). Worse for the loop detector, the sampling instants then drift across the
picture's timeline: the replay of a 10 s recording was sampled up to 0.18 s away from where the recording had
been, and at a person's ordinary movement that difference alone is more than the detector accepts, so a replay
could go unfound for minutes.

:class:`SampleGrid` keeps a grid ``1/fps`` apart on the frames' capture times and takes, for each grid point, the
frame captured closest to it: the first frame no more than half a frame interval before the point. A frame that
cannot be taken (the analysis still busy) leaves the point due, so the next frame is taken (up to a quarter interval
late). After a longer gap (a stall, a long busy spell) the grid keeps its phase: the samples of a whole session lie
on one grid, so a recording replayed with a period of whole intervals is sampled where it was sampled before. A
capture clock that jumped back (a new stream) or a new rate starts a new grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Longer between two frames is a stall, not the camera's frame rate.
MAX_FRAME_INTERVAL_S = 0.5


@dataclass
class SampleGrid:
    _next: float | None = field(default=None, init=False)  # capture time of the next grid point
    _interval: float = field(default=0.0, init=False)
    _last_frame: float | None = field(default=None, init=False)
    _frame_interval: float = field(default=0.0, init=False)  # between frames (smoothed): how early a frame may be

    def due(self, captured: float, fps: float) -> bool:
        """Whether the frame captured at *captured* (s) is the one for the current grid point at *fps* samples/s.
        Call it for every decoded frame; call :meth:`taken` when the frame was handed on."""
        step = captured - self._last_frame if self._last_frame is not None else 0.0
        # smoothed: one early frame must not narrow the window; a stall says nothing of the frame rate
        if 0.0 < step <= MAX_FRAME_INTERVAL_S:
            self._frame_interval = step if not self._frame_interval else 0.9 * self._frame_interval + 0.1 * step
        self._last_frame = captured
        if fps <= 0:
            return False
        interval = 1.0 / fps
        early = min(self._frame_interval, interval) / 2
        if self._next is None or interval != self._interval or self._next - captured > 2 * interval:
            self._next, self._interval = captured, interval  # a grid starts at this frame
        elif captured - self._next > interval / 4:
            # grid points went by without a sample (a stall, a busy analysis): the grid keeps its phase and this
            # frame waits for the next point unless it is close to one
            self._next += math.ceil((captured - self._next - early) / interval) * interval
        return captured >= self._next - early

    def taken(self) -> None:
        """The due frame was handed on: the next grid point is one interval later."""
        if self._next is not None:
            self._next += self._interval
