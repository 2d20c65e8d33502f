"""When a decoded frame was captured, on this server's monotonic clock.

A decoded frame reaches the sampler after the network, aiortc's jitter buffer, the decoder thread and the event
loop: its arrival time jitters by tens to hundreds of milliseconds under load. The sender stamps every frame with
its capture time (the RTP timestamp, 90 kHz; aiortc hands it on as the frame's ``pts``). The proctoring detectors
that compare frames over time (``looped`` wants the same lag within 0.25 s for 8 samples) need the capture time,
not the arrival time.

:class:`CaptureClock` maps RTP time onto the server's clock at the least transit delay seen so far: a frame that
arrived sooner after its capture than any before it moves the mapping earlier. The mapping relaxes by
``drift_per_s`` per second (a sender clock slower than the server's would otherwise fall behind it), and starts
again when the timestamps jump (a new stream after a reconnect, a sender that restarted its clock) or when frames
arrive more than ``reset_after_s`` later than the mapping says (a stall of the stream is not capture time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RTP_VIDEO_RATE = 90_000


@dataclass
class CaptureClock:
    rate: int = RTP_VIDEO_RATE
    reset_after_s: float = 2.0
    drift_per_s: float = 0.0005
    _offset: float | None = field(default=None, init=False)  # server monotonic s - capture s, the least seen
    _last_capture: float | None = field(default=None, init=False)
    _last_now: float = field(default=0.0, init=False)
    resets: int = field(default=0, init=False)

    def map(self, pts: int | None, now: float) -> float:
        """The server monotonic time at which the frame stamped *pts* was captured (its arrival *now* when the
        frame carries no timestamp). Never later than *now*."""
        if pts is None:
            return now
        capture = pts / self.rate
        offset = now - capture
        if (self._offset is None or self._last_capture is None or capture < self._last_capture
                or capture - self._last_capture > self.reset_after_s + (now - self._last_now)
                or offset - self._offset > self.reset_after_s):
            if self._offset is not None:
                self.resets += 1
            self._offset = offset
        else:
            relaxed = self._offset + max(0.0, now - self._last_now) * self.drift_per_s
            self._offset = min(relaxed, offset)
        self._last_capture, self._last_now = capture, now
        return min(now, capture + self._offset)
