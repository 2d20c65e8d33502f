"""What the live pages send about proctoring over the ``/live`` socket (validated at the edge)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from remote_tuk.live.schemas import SessionIn

#: What the candidate's page may report. The first kind of each pair is an alert; the second ends it.
BrowserSignal = Literal[
    "tab_hidden",
    "tab_visible",
    "window_blur",
    "window_focus",
    "fullscreen_exit",
    "fullscreen_enter",
    "copy",
    "cut",
    "paste",
    "print",
    "context_menu",
    "extra_screen",
    "screen_share_ended",
    "screen_share_started",
    "device_change",
    "track_ended",
    "track_muted",
    "virtual_camera",
    "page_unload",
    "devtools_open",
]


class SignalIn(SessionIn):
    """One browser signal. ``seq`` counts up per page (a page reload starts again at 0 with a new ``page``)."""

    page: str = Field(min_length=8, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    seq: StrictInt = Field(ge=0, le=10**9)
    kind: BrowserSignal
    detail: str = Field(default="", max_length=200)
    #: the browser's own clock (ms since 1970), kept as reported; the server stamps its own time
    client_ms: StrictInt | None = Field(default=None, ge=0, le=10**14)


class LabelIn(SessionIn):
    finding: StrictInt = Field(ge=1, le=2**31 - 1)
    label: Literal["dismissed", "noted", "confirmed"]
    note: str = Field(default="", max_length=2000)


class QuietIn(SessionIn):
    on: StrictBool
