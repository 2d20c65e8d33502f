"""A session's evidence as people look at it: the entry list in words (labels from :mod:`.kinds`, the code beside
them), a drawn timeline in the LSP's time zone, and the periods the candidate's video was lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any, Protocol

from remote_tuk.records import kinds

#: what the entry list shows for an actor's role (translated in the template)
ACTOR_LABELS = {"asesi": "Asesi", "asesor": "Asesor", "lsp_admin": "Admin LSP", "auditor": "Auditor",
                "system": "Sistem", "dpo": "Petugas pelindungan data"}


class PageFormat(kinds.NumberFormat, Protocol):
    """What the page's formatter gives (``remote_tuk.views.Formatter``): one zone, one language."""

    def local(self, value: datetime) -> datetime: ...

    def time(self, value: datetime, *, seconds: bool = True, zone: bool = True) -> str: ...

    def duration(self, seconds: float) -> str: ...

    @property
    def zone(self) -> Any: ...


@dataclass(frozen=True)
class Row:
    index: int
    seq: int
    at: datetime
    kind: str
    type: str
    label: str
    code: str
    lane: str
    milestone: bool
    actor_role: str
    actor_id: str
    size: int | None
    sha256: str | None
    detail: str


def _time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["server_time"].replace("Z", "+00:00"))


def rows(entries: list[dict[str, Any]], fmt: kinds.NumberFormat) -> list[Row]:
    out = []
    for e in entries:
        if e.get("chain") != e.get("session_id"):
            continue  # reads and other system entries about this session live in the system chain
        d = kinds.describe(e, fmt)
        obj = e.get("object") or {}
        actor = e.get("actor") or {}
        out.append(Row(e["log_index"], e.get("seq", 0), _time(e), e.get("kind", ""), e.get("type") or e.get("kind", ""),
                       d.label, d.code, d.lane, d.milestone, str(actor.get("role", "")), str(actor.get("id", "")),
                       obj.get("size"), obj.get("sha256"), d.detail))
    return out


def _event(row: Row) -> str:
    return row.code.rsplit(" · ", 1)[-1] if row.type == "session.event" else ""


def downtimes(items: list[Row]) -> list[tuple[datetime, datetime]]:
    """From each ``media.stalled`` to the ``media.resumed`` after it: the candidate's video was not arriving."""
    out, stall = [], None
    for r in items:
        if _event(r) == "media.stalled":
            stall = stall or r.at
        elif _event(r) == "media.resumed" and stall is not None:
            out.append((stall, r.at))
            stall = None
    return out


def timeline_svg(items: list[Row], fmt: PageFormat, *, width: int = 960, downtime_label: str = "",
                 axis_label: str = "") -> str:
    """The evidence of one session drawn on a time axis in the LSP's zone, one lane per kind that occurs, the
    periods without the candidate's video shaded."""
    if not items:
        return ""
    used = {r.lane for r in items}
    lanes = [lane for lane in kinds.LANES if lane.key in used]
    row_of = {lane.key: i for i, lane in enumerate(lanes)}
    lane_h, top, left, right = 26, 24, 210, 16
    height = top + lane_h * len(lanes) + 34
    t0, t1 = items[0].at, items[-1].at
    span = max((t1 - t0).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return left + (width - left - right) * ((at - t0).total_seconds() / span)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="timeline-svg" '
             f'role="img" aria-label="{escape(axis_label)}" data-zone="{escape(fmt.zone.abbr)}">']
    for start, end in downtimes(items):
        lost = fmt.duration((end - start).total_seconds())
        title = escape(f"{downtime_label} {fmt.time(start)}–{fmt.time(end)} ({lost})")
        parts.append(f'<rect x="{x(start):.1f}" y="{top - 6}" width="{max(x(end) - x(start), 2):.1f}" '
                     f'height="{lane_h * len(lanes) + 6}" fill="#fee2e2" data-downtime="">'
                     f"<title>{title}</title></rect>")
    for i, lane in enumerate(lanes):
        y = top + i * lane_h
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" class="lane">'
                     f"{escape(str(lane.label))}</text>")
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y + lane_h - 2}" y2="{y + lane_h - 2}" '
                     'stroke="#e5e7eb"/>')
    for r in items:
        lane = kinds.lane_of(r.lane)
        y = top + row_of[lane.key] * lane_h
        title = escape(f"#{r.index} {fmt.time(r.at)} · {r.label}{' · ' + r.detail if r.detail else ''} ({r.code})")
        if r.milestone:
            parts.append(f'<polygon points="{x(r.at):.1f},{y + 3} {x(r.at) + 6:.1f},{y + 11} {x(r.at):.1f},'
                         f'{y + 19} {x(r.at) - 6:.1f},{y + 11}" fill="{lane.colour}"><title>{title}</title></polygon>')
        else:
            parts.append(f'<rect x="{x(r.at) - 1.5:.1f}" y="{y + 4}" width="3" height="15" fill="{lane.colour}" '
                         f'opacity="0.85"><title>{title}</title></rect>')
    base = top + lane_h * len(lanes) + 16
    for frac in (0, 0.25, 0.5, 0.75, 1):
        at = t0 + (t1 - t0) * frac
        anchor = {0: "start", 1: "end"}.get(frac, "middle")  # the ends stay inside the drawing
        parts.append(f'<text x="{left + (width - left - right) * frac:.1f}" y="{base}" text-anchor="{anchor}" '
                     f'class="tick" data-tick="">{fmt.time(at, zone=False)}</text>')
    parts.append(f'<text x="{left - 8}" y="{base}" text-anchor="end" class="tick">{escape(fmt.zone.abbr)}</text>')
    parts.append("</svg>")
    return "".join(parts)
