"""A session's evidence as people look at it: a drawn timeline, the entry list, and the bundle for auditors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

LANES = [
    ("recording.browser_chunk", "Rekaman peramban", "#0f766e"),
    ("recording.server_segment", "Rekaman server", "#2563eb"),
    ("session.event", "Peristiwa sesi", "#6b7280"),
    ("assessment.kuk_mark", "Penilaian KUK", "#b45309"),
    ("session.chat", "Obrolan", "#7c3aed"),
    ("other", "Lainnya", "#111827"),
]
_LANE_OF = {t: i for i, (t, _l, _c) in enumerate(LANES)}
_EXTRA = {"recording.browser_full": 0, "assessment.unit_decision": 3}

TYPE_LABELS = {
    "recording.browser_chunk": "Potongan rekaman peramban",
    "recording.browser_full": "Rekaman peramban utuh",
    "recording.server_segment": "Segmen rekaman server",
    "session.event": "Peristiwa sesi",
    "session.chat": "Pesan obrolan",
    "assessment.kuk_mark": "Penilaian KUK",
    "assessment.unit_decision": "Keputusan unit",
}


@dataclass(frozen=True)
class Row:
    index: int
    seq: int
    at: datetime
    kind: str
    type: str
    label: str
    actor: str
    size: int | None
    sha256: str | None
    detail: str


def _time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["server_time"].replace("Z", "+00:00"))


def rows(entries: list[dict[str, Any]]) -> list[Row]:
    out = []
    for e in entries:
        if e.get("chain") != e.get("session_id"):
            continue  # reads and other system entries about this session live in the system chain
        meta = e.get("metadata") or {}
        kind = e.get("kind", "")
        type_ = e.get("type") or kind
        detail = meta.get("event") or ""
        if type_ == "recording.browser_chunk":
            detail = f"#{meta.get('seq')}"
        elif type_ == "recording.server_segment":
            detail = f"segmen {meta.get('index')}, {meta.get('frames')} bingkai"
        elif type_ == "assessment.kuk_mark":
            detail = f"KUK {meta.get('kuk_id')} v{meta.get('version')}"
        obj = e.get("object") or {}
        actor = e.get("actor") or {}
        out.append(
            Row(
                e["log_index"],
                e.get("seq", 0),
                _time(e),
                kind,
                type_,
                TYPE_LABELS.get(type_, {"open": "Pembukaan rantai", "close": "Penutupan rantai"}.get(kind, type_)),
                f"{actor.get('role', '')}:{actor.get('id', '')}",
                obj.get("size"),
                obj.get("sha256"),
                detail,
            )
        )
    return out


def timeline_svg(items: list[Row], *, width: int = 960) -> str:
    """The evidence of one session drawn on a time axis, one lane per kind, downtime shaded."""
    if not items:
        return ""
    lane_h, top, left, right = 26, 24, 150, 16
    height = top + lane_h * len(LANES) + 28
    t0, t1 = items[0].at, items[-1].at
    span = max((t1 - t0).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return left + (width - left - right) * ((at - t0).total_seconds() / span)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="timeline-svg" '
        f'role="img" aria-label="Lini masa bukti sesi">'
    ]
    # downtime: from a stall to the next resume
    stall: datetime | None = None
    for r in items:
        if r.detail == "media.stalled":
            stall = r.at
        elif r.detail == "media.resumed" and stall is not None:
            parts.append(
                f'<rect x="{x(stall):.1f}" y="{top - 6}" width="{max(x(r.at) - x(stall), 2):.1f}" '
                f'height="{lane_h * len(LANES) + 6}" fill="#fee2e2"><title>Koneksi asesi terputus</title>'
                "</rect>"
            )
            stall = None
    for i, (_t, label, _c) in enumerate(LANES):
        y = top + i * lane_h
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" class="lane">{escape(label)}</text>')
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y + lane_h - 2}" y2="{y + lane_h - 2}" stroke="#e5e7eb"/>'
        )
    for r in items:
        lane = _LANE_OF.get(r.type, _EXTRA.get(r.type, len(LANES) - 1))
        color = LANES[lane][2]
        y = top + lane * lane_h
        title = escape(f"#{r.index} {r.at:%H:%M:%S} {r.label} {r.detail}".strip())
        if r.type in ("recording.browser_full", "assessment.unit_decision") or r.kind in ("open", "close"):
            parts.append(
                f'<polygon points="{x(r.at):.1f},{y + 3} {x(r.at) + 6:.1f},{y + 11} {x(r.at):.1f},'
                f'{y + 19} {x(r.at) - 6:.1f},{y + 11}" fill="{color}"><title>{title}</title></polygon>'
            )
        else:
            parts.append(
                f'<rect x="{x(r.at) - 1.5:.1f}" y="{y + 4}" width="3" height="15" fill="{color}" '
                f'opacity="0.85"><title>{title}</title></rect>'
            )
    base = top + lane_h * len(LANES) + 16
    for frac in (0, 0.25, 0.5, 0.75, 1):
        at = t0 + (t1 - t0) * frac
        parts.append(
            f'<text x="{left + (width - left - right) * frac:.1f}" y="{base}" text-anchor="middle" '
            f'class="tick">{at:%H:%M:%S}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
