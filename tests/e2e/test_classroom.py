"""The assessor's classroom in real Chromium (issue 17): four candidates and one assessor, in one browser with a
context each (the machine has two cores; four browsers would starve it).

Every tile plays the candidate's small layer; focusing candidate 2 brings its full video (640x480) and its sound;
the assessor's voice reaches candidate 2 only (audio energy measured with a WebAudio analyser in every candidate's
page); a broadcast message reaches all four; a browser alert on candidate 3 raises its tile (not while the pointer is
over the grid); candidate 4 reloads their page and comes back into the same tile.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, api, sign_in, wait_until
from tests.e2e.test_live_session import move, open_live, wait_page

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

TILES_JS = """() => Array.from(document.querySelectorAll('[data-tiles] [data-session]')).map((el) => ({
  session: el.dataset.session, focused: el.dataset.focused, alerts: Number(el.dataset.alertCount),
  frames: Number(el.dataset.frames || 0), width: Number(el.dataset.width || 0), state: el.dataset.state,
  heard: el.dataset.heard, talk: el.dataset.talk, level: Number(el.dataset.level || 0), light: el.dataset.light}))"""

# the energy of what a candidate's page receives from the assessor (talk-back), over ~1.5 s
HEARD_JS = """async () => {
  const el = document.getElementById('assessor-audio');
  if (!el || !el.srcObject) return -1;
  const ctx = new AudioContext();
  await ctx.resume();
  const an = ctx.createAnalyser();
  an.fftSize = 1024;
  ctx.createMediaStreamSource(el.srcObject).connect(an);
  const buf = new Float32Array(1024);
  let peak = 0;
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 100));
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    peak = Math.max(peak, Math.sqrt(sum / buf.length));
  }
  ctx.close();
  return peak;
}"""


CHAT_JS = "() => document.querySelector('[data-live-chat-log]').textContent"


def _add_candidates(server: Server, n: int) -> list[tuple[str, str]]:
    """n more candidates in schedule A (asesor_a's), each with their own session; the gate already satisfied."""
    from tests.conftest import PASSWORD, satisfy_gate

    out = []
    with server.app_context():
        from remote_tuk.accounts.models import Role, User
        from remote_tuk.accounts.services import create_user
        from remote_tuk.assessment import services as assessment
        from remote_tuk.assessment.models import Schedule
        from remote_tuk.extensions import db

        s = db.session
        admin = s.get(User, server.cast.users["admin"])
        schedule = s.get(Schedule, server.cast.schedule_a)
        for i in range(n):
            name = f"asesi_k{i + 2}"
            u = create_user(s, username=name, full_name=f"Asesi Kelas {i + 2}", password=PASSWORD, created_by=None,
                            role=Role.CANDIDATE, nik=f"32010101010100{i + 11}")
            s.flush()
            session = assessment.add_candidate(s, schedule, u.id, actor=admin)
            out.append((name, session.public_id))
        s.commit()
    for _name, sid in out:
        satisfy_gate(server.db_url, sid)
    return out


def _tiles(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(TILES_JS)


def _tile(page: Any, sid: str) -> dict[str, Any]:
    return next(t for t in _tiles(page) if t["session"] == sid)


def test_classroom_four_candidates(tmp_path: Path, browser: Any) -> None:
    server = Server(tmp_path / "srv")
    server.tmp.mkdir(parents=True)
    server.prepare()
    extra = _add_candidates(server, 3)
    server.start()
    try:
        _run(server, browser, extra)
    finally:
        server.stop()


def _run(server: Server, browser: Any, extra: list[tuple[str, str]]) -> None:
    cast, base = server.cast, server.url()
    people = [("asesi_a", cast.session_a), *extra]  # candidate 1..4
    sids = [sid for _, sid in people]
    assessor = browser.new_context().new_page()
    sign_in(assessor, base, "asesor_a", cast.totp["asesor_a"])
    for sid in sids:
        move(assessor, sid, "checking", "ready")
    candidates = []
    for name, sid in people:
        page = browser.new_context().new_page()
        sign_in(page, base, name)
        open_live(page, base, sid)
        candidates.append(page)
    for page in candidates:
        wait_page(page, lambda s: s["pc"] == "connected", 60, "a candidate's connection")
    for sid in sids:
        move(assessor, sid, "live")

    assessor.goto(f"{base}/jadwal/{cast.schedule_a}/kelas")
    assessor.wait_for_selector("[data-tiles] [data-session]", state="attached")
    assert [t["session"] for t in _tiles(assessor)] == sids  # the schedule's order, nobody alerting yet

    # 1. every tile plays the small layer
    def all_play() -> bool:
        tiles = _tiles(assessor)
        return all(t["frames"] > 10 and t["width"] and t["width"] <= 240 and t["light"] == "ok" for t in tiles)

    wait_until(all_play, 60, f"every tile playing: {_tiles(assessor)}")
    first = {t["session"]: t["frames"] for t in _tiles(assessor)}
    time.sleep(3)
    later = {t["session"]: t["frames"] for t in _tiles(assessor)}
    for sid in sids:
        # every tile keeps playing; its frame rate (>= 5 fps without load) is measured in bench/bench_classroom.py:
        # five Chromium pages with 13 encoders on this shared 2-core machine starve the fake cameras
        assert later[sid] - first[sid] >= 2, (sid, first, later)
    print("tile fps under test load:", {sid[:6]: round((later[sid] - first[sid]) / 3, 1) for sid in sids})
    assert all(t["focused"] == "0" and t["heard"] == "0" for t in _tiles(assessor))

    # 2. focus candidate 2: its full video, its sound; the assessor's microphone to candidate 2 only
    c2 = sids[1]
    assessor.click(f'[data-session="{c2}"] video')
    wait_until(lambda: _tile(assessor, c2)["focused"] == "1", 5, "tile 2 focused")
    wait_until(lambda: assessor.evaluate("window.classroom.focusTimes.length") > 0, 10, "a full frame after focus")
    focus = assessor.evaluate("window.classroom.focusTimes[0]")
    assert focus["session"] == c2 and focus["width"] == 640, focus
    wait_until(lambda: assessor.evaluate("document.querySelector('[data-focus-video]').videoWidth") == 640, 10,
               "the focused video at full size")
    tile2 = _tile(assessor, c2)
    assert tile2["heard"] == "1" and tile2["talk"] == "1"
    assert all(t["heard"] == "0" and t["talk"] == "0" for t in _tiles(assessor) if t["session"] != c2)
    wait_until(lambda: _tile(assessor, c2)["level"] > 0.005, 10, "candidate 2's sound on the meter")
    # the focus panel: the session's own live page, framed, with its KUK panel and chat
    panel = assessor.frame_locator("[data-focus-panel]")
    panel.locator(".kuk-panel").wait_for(timeout=20_000)

    energies = [page.evaluate(HEARD_JS) for page in candidates]
    print("focus switch ms:", round(focus["ms"]), "talk-back energy per candidate:", [round(e, 4) for e in energies])
    assert energies[1] > 0.01, energies
    for i in (0, 2, 3):
        assert energies[i] < energies[1] / 10, energies

    # 3. a broadcast reaches all four (and each session's evidence)
    assessor.fill("[data-broadcast] input", "Waktu tersisa 10 menit")
    assessor.click("[data-broadcast] button")
    for i, page in enumerate(candidates):
        wait_until(lambda p=page: "Waktu tersisa 10 menit" in p.evaluate(CHAT_JS), 15, f"the broadcast at {i + 1}")

    # 4. an alert on candidate 3 raises its tile (once the pointer leaves the grid: the order does not jump)
    c3 = sids[2]
    assessor.mouse.move(200, 300)
    assessor.hover(f'[data-session="{sids[0]}"]')
    candidates[2].evaluate("document.dispatchEvent(new Event('copy'))")
    wait_until(lambda: _tile(assessor, c3)["alerts"] >= 1, 20, "the alert on tile 3")
    assert [t["session"] for t in _tiles(assessor)] == sids  # pointer over the grid: not reordered yet
    assessor.mouse.move(1, 1)
    wait_until(lambda: _tiles(assessor)[0]["session"] == c3, 5, f"tile 3 first: {_tiles(assessor)}")

    # 5. candidate 4 reloads: the same tile plays again
    c4 = sids[3]
    before = _tile(assessor, c4)["frames"]
    candidates[3].reload()
    candidates[3].wait_for_selector("#live")
    wait_page(candidates[3], lambda s: s["pc"] == "connected", 60, "candidate 4 back")
    wait_until(lambda: _tile(assessor, c4)["frames"] > before + 15, 40, "tile 4 playing again")
    assert len(_tiles(assessor)) == 4

    # every action is in the affected sessions' own evidence
    for sid in sids:
        status, body = api(assessor, "GET", f"/api/v1/sessions/{sid}")
        assert status == 200 and body["state"] == "live", body
    server.stop()
    with server.app_context():
        from remote_tuk.extensions import evidence

        for sid in sids:
            chats = [e for e in evidence.store.list_entries(sid) if e.get("type") == "session.chat"]
            assert len(chats) == 1, (sid, chats)
