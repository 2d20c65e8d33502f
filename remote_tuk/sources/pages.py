"""What the live and check pages are given about the extra sources (issue 19)."""

from __future__ import annotations

from typing import Any

from flask import url_for


def sources_page_data(public_id: str, role: str, profile: Any) -> dict[str, Any]:
    """The extra sources on a live or check page (issue 19): the phone link and screen share for the candidate, the
    subscriptions and status for the assessor and witnesses; ``phone``/``screen`` are None, "advisory" or
    "mandatory" from the LSP's TUK profile (the phone's QR code is always offered)."""

    def wanted(key: str) -> str | None:
        req = profile.get(key)
        return None if req is None else ("mandatory" if req.mandatory else "advisory")

    out: dict[str, Any] = {"phone": wanted("phone_camera"), "screen": wanted("screen_share")}
    if role == "candidate":
        out["urls"] = {
            "phone_link": url_for("sources.new_link", public_id=public_id),
            "screen_offer": url_for("sources.offer", public_id=public_id, source="screen"),
            "screen_chunks": url_for("sources.chunks", public_id=public_id, source="screen"),
            "screen_event": url_for("sources.screen_event", public_id=public_id),
            "status": url_for("sources.status", public_id=public_id),
        }
    else:
        out["urls"] = {
            "watch_phone": url_for("sources.watch", public_id=public_id, source="phone"),
            "watch_screen": url_for("sources.watch", public_id=public_id, source="screen"),
            "status": url_for("sources.status", public_id=public_id),
        }
    return out
