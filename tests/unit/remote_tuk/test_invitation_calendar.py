"""The hand-written iCalendar of the invitations (RFC 5545): escaping, folding at 75 octets, the LSP's zone."""

from __future__ import annotations

from datetime import UTC, datetime

from remote_tuk.invitations import calendar


def test_text_values_are_escaped():
    assert calendar.escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_folding_keeps_lines_within_75_octets_and_utf8_characters_whole():
    line = "DESCRIPTION:" + "Uji kompetensi – asesi “Ñ” 🙂 " * 20
    folded = calendar.fold(line)
    pieces = folded.split("\r\n")
    assert len(pieces) > 1
    assert all(len(p.encode("utf-8")) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join([pieces[0], *(p[1:] for p in pieces[1:])]) == line  # unfolding gives the line back
    for p in pieces:
        p.encode("utf-8").decode("utf-8")  # no piece ends inside a character
    assert calendar.fold("SHORT:x") == "SHORT:x"


def test_event_in_each_indonesian_zone():
    start = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    end = datetime(2026, 12, 7, 5, 30, tzinfo=UTC)
    for zone, offset, abbr, local in (
        ("Asia/Jakarta", "+0700", "WIB", "20261207T090000"),
        ("Asia/Makassar", "+0800", "WITA", "20261207T100000"),
        ("Asia/Jayapura", "+0900", "WIT", "20261207T110000"),
    ):
        ics = calendar.render(
            calendar.CalendarEvent(uid="rtuk-abc@lsp.example", sequence=2, starts_at=start, ends_at=end,
                                   summary="Uji, kompetensi; A", description="baris 1\nbaris 2", url="https://x/sesi/abc",
                                   location="Daring", time_zone=zone, organizer_name='LSP "Uji"',
                                   organizer_email="admin@lsp.example"),
            now=datetime(2026, 12, 4, 18, 0, 5, tzinfo=UTC),
        )
        lines = ics.split("\r\n")
        assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
        assert f"TZID:{zone}" in lines and f"TZOFFSETTO:{offset}" in lines and f"TZNAME:{abbr}" in lines
        assert f"DTSTART;TZID={zone}:{local}" in lines
        assert "DTSTAMP:20261204T180005Z" in lines and "SEQUENCE:2" in lines and "METHOD:PUBLISH" in lines
        assert "SUMMARY:Uji\\, kompetensi\\; A" in lines and "DESCRIPTION:baris 1\\nbaris 2" in lines
        assert "ORGANIZER;CN=\"LSP 'Uji'\":mailto:admin@lsp.example" in lines


def test_an_unknown_zone_falls_back_to_wib():
    ics = calendar.render(
        calendar.CalendarEvent(uid="u", sequence=0, starts_at=datetime(2026, 1, 1, tzinfo=UTC),
                               ends_at=datetime(2026, 1, 1, 1, tzinfo=UTC), summary="s", description="d", url="u",
                               location="l", time_zone="Europe/Berlin"),
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert "DTSTART;TZID=Asia/Jakarta:20260101T070000" in ics and "ORGANIZER" not in ics
