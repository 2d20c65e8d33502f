"""Issue 13 #10: times typed into the schedule form are in the LSP's own zone (WIB, WITA or WIT), and it says so."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from tests.conftest import csrf_token


def _new_schedule(app, admin, title: str) -> tuple[int, str]:
    from remote_tuk.assessment.models import Schedule
    from remote_tuk.extensions import db
    from remote_tuk.lsp.models import Scheme

    with app.app_context():
        scheme_id = db.session.scalars(select(Scheme.id)).first()
    token = csrf_token(admin, "/admin/jadwal")
    resp = admin.post("/admin/jadwal", data={"csrf_token": token, "title": title, "scheme_id": str(scheme_id),
                                             "starts_at": "2027-01-05T09:00", "ends_at": "2027-01-05T12:00"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    with app.app_context():
        row = db.session.scalar(select(Schedule).where(Schedule.title == title))
        return row.starts_at, row.ends_at


def test_schedule_times_are_read_in_the_lsps_zone(app, login_as):
    admin = login_as("admin")
    form = admin.get("/admin/jadwal").get_data(as_text=True)
    assert "Mulai (WIB)" in form and "Selesai (WIB)" in form
    starts, ends = _new_schedule(app, admin, "Jadwal WIB")
    assert starts == datetime(2027, 1, 5, 2, 0, tzinfo=UTC) and ends == datetime(2027, 1, 5, 5, 0, tzinfo=UTC)

    token = csrf_token(admin, "/admin/lsp")
    assert admin.post("/admin/lsp", data={"csrf_token": token, "name": "LSP Uji", "lsp_type": "pihak_ketiga",
                                          "time_zone": "Asia/Jayapura", "domain": ""}).status_code == 302
    form = admin.get("/admin/jadwal").get_data(as_text=True)
    assert "Mulai (WIT)" in form and "(WIB)" not in form
    starts, _ = _new_schedule(app, admin, "Jadwal WIT")
    assert starts == datetime(2027, 1, 5, 0, 0, tzinfo=UTC)  # 09:00 WIT is 00:00 UTC, not 02:00


def test_a_time_with_its_own_zone_keeps_it(app, login_as):
    from remote_tuk.assessment.schemas import ScheduleIn
    from remote_tuk.validation import parse

    data = parse(ScheduleIn, {"title": "Zona", "scheme_id": "1", "starts_at": "2027-01-05T09:00+08:00",
                              "ends_at": "2027-01-05T10:00+08:00"})
    assert data.starts_at == datetime(2027, 1, 5, 1, 0, tzinfo=UTC)
