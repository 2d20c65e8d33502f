"""An iCalendar (RFC 5545) event for a session, written by hand (no calendar library is installed).

One VEVENT per session with a UID that never changes (``rtuk-<session public id>@<LSP domain>``), so a schedule
change sent later with a higher SEQUENCE updates the entry in the candidate's calendar instead of adding one. Times
are given in the LSP's zone (a VTIMEZONE for Asia/Jakarta, Asia/Makassar or Asia/Jayapura: fixed offsets, Indonesia
keeps no daylight saving time). The event never carries a join link: calendars are synced to other servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from remote_tuk.lsp.models import DEFAULT_TIME_ZONE, TIME_ZONES, UTC_OFFSETS

PRODID = "-//Remote TUK//Undangan Asesmen//ID"
#: RFC 5545 3.1: lines longer than 75 octets are folded
MAX_LINE_OCTETS = 75


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    url: str
    location: str
    time_zone: str = DEFAULT_TIME_ZONE
    organizer_name: str = ""
    organizer_email: str = ""


def escape_text(value: str) -> str:
    """RFC 5545 3.3.11 TEXT: backslash, semicolon, comma and newlines escaped."""
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\n").replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """RFC 5545 3.1: split a content line into pieces of at most 75 octets, never inside a UTF-8 character; every
    continuation starts with one space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = MAX_LINE_OCTETS
    for char in line:
        n = len(char.encode("utf-8"))
        if size + n > limit:
            pieces.append(current)
            current, size = " ", 1  # the continuation's leading space counts towards its 75 octets
        current += char
        size += n
    pieces.append(current)
    return "\r\n".join(pieces)


def _local(value: datetime, zone: str) -> str:
    tz_hours = UTC_OFFSETS[zone]
    return (value.astimezone(UTC) + timedelta(hours=tz_hours)).strftime("%Y%m%dT%H%M%S")


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _offset(zone: str) -> str:
    return f"+{UTC_OFFSETS[zone]:02d}00"


def render(event: CalendarEvent, *, now: datetime) -> str:
    """The whole VCALENDAR (METHOD:PUBLISH), CRLF line ends, folded."""
    zone = event.time_zone if event.time_zone in TIME_ZONES else DEFAULT_TIME_ZONE
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VTIMEZONE",
        f"TZID:{zone}",
        "BEGIN:STANDARD",
        "DTSTART:19700101T000000",
        f"TZOFFSETFROM:{_offset(zone)}",
        f"TZOFFSETTO:{_offset(zone)}",
        f"TZNAME:{TIME_ZONES[zone]}",
        "END:STANDARD",
        "END:VTIMEZONE",
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART;TZID={zone}:{_local(event.starts_at, zone)}",
        f"DTEND;TZID={zone}:{_local(event.ends_at, zone)}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"DESCRIPTION:{escape_text(event.description)}",
        f"LOCATION:{escape_text(event.location)}",
        f"URL:{event.url}",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
    ]
    if event.organizer_email:
        cn = event.organizer_name.replace('"', "'")
        lines.append(f'ORGANIZER;CN="{cn}":mailto:{event.organizer_email}')
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
