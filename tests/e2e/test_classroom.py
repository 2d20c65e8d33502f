"""The assessor's classroom in real Chromium (issue 17): four candidates, each in their own browser whose fake webcam
shows a different person (the astronaut and three lfw faces), and one assessor.

Every tile plays the candidate's small layer and shows that candidate (a 16x12 thumbnail of the tile is nearest to
its own candidate's camera, so no stream is routed to the wrong tile); focusing candidate 2 brings its full video
(the camera's full 320x240, candidate 2's face) and its sound; the assessor's voice reaches candidate 2 only (audio
energy measured with a WebAudio analyser in every candidate's page); a broadcast message reaches all four; an alert on
candidate 3 raises its tile (not while the pointer is over the grid); candidate 4 reloads their page and comes back
into the same tile.

The fake cameras are 320x240 (the small layer is then 80x60): five Chromium instances with three encoders per
candidate page (the full stream, the small layer, the recorder) do not fit two cores at 640x480; the 640x480 figures
of 4 and 10 candidates come from bench/bench_classroom.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e.conftest import CHROMIUM, Server, api, chromium_args, sign_in, wait_until
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


# a 16x12 grey thumbnail of what a <video> element shows
THUMB_JS = """(sel) => {
  const v = document.querySelector(sel);
  if (!v || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = 16; c.height = 12;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0, 16, 12);
  const d = g.getImageData(0, 0, 16, 12).data, out = [];
  for (let i = 0; i < d.length; i += 4) out.push(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]);
  return out;
}"""

LFW_PEOPLE = (36, 19, 5)  # three lfw faces besides the astronaut
CAMERA_W, CAMERA_H = 320, 240


def _cameras(directory: Path) -> tuple[list[Path], list[np.ndarray]]:
    """Four 10 s webcam clips, one person each, and each person's 16x12 grey thumbnail."""
    import cv2

    from tests.media import clips

    directory.mkdir(parents=True, exist_ok=True)
    people = [clips.astronaut(), *[clips.lfw_webcam(k) for k in LFW_PEOPLE]]
    paths, thumbs = [], []
    for n, person in enumerate(people):
        path = directory / f"person{n + 1}.y4m"
        fps, frames = clips.Y4M_FPS, round(10.0 * clips.Y4M_FPS)
        with open(path, "wb") as f:
            f.write(f"YUV4MPEG2 W{CAMERA_W} H{CAMERA_H} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            for i in range(frames):  # breathing and sensor noise, as the project's ordinary clips
                f.write(b"FRAME\n")
                frame = clips._noisy(clips._breathing(person, i / fps), i)
                frame = cv2.resize(frame, (CAMERA_W, CAMERA_H), interpolation=cv2.INTER_AREA)
                f.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
        paths.append(path)
        grey = cv2.cvtColor(person, cv2.COLOR_BGR2GRAY).astype(np.float32)
        thumbs.append(cv2.resize(grey, (16, 12), interpolation=cv2.INTER_AREA).ravel())
    return paths, thumbs


def _who(thumb: list[float] | None, thumbs: list[np.ndarray]) -> int:
    """The index of the person whose camera the thumbnail is nearest to (-1: nothing shown)."""
    if not thumb:
        return -1
    shown = np.asarray(thumb, np.float32)
    return int(np.argmin([float(np.mean((shown - t) ** 2)) for t in thumbs]))


def test_classroom_four_candidates(tmp_path: Path, browser: Any, playwright_instance: Any,
                                   fake_devices: tuple[Path, Path]) -> None:
    cameras, thumbs = _cameras(tmp_path / "cameras")
    server = Server(tmp_path / "srv")
    server.tmp.mkdir(parents=True)
    server.prepare()
    extra = _add_candidates(server, 3)
    server.start()
    browsers = [playwright_instance.chromium.launch(executable_path=CHROMIUM, args=chromium_args(y4m, fake_devices[1]))
                for y4m in cameras]
    try:
        _run(server, browser, browsers, thumbs, extra)
    finally:
        for b in browsers:
            b.close()
        server.stop()


def _run(server: Server, browser: Any, browsers: list[Any], thumbs: list[np.ndarray],
         extra: list[tuple[str, str]]) -> None:
    cast, base = server.cast, server.url()
    people = [("asesi_a", cast.session_a), *extra]  # candidate 1..4
    sids = [sid for _, sid in people]
    assessor = browser.new_context().new_page()
    sign_in(assessor, base, "asesor_a", cast.totp["asesor_a"])
    for sid in sids:
        move(assessor, sid, "checking", "ready")
    candidates = []
    for (name, sid), own in zip(people, browsers, strict=True):
        page = own.new_context().new_page()
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
    # each tile shows its own candidate
    shown = [_who(assessor.evaluate(THUMB_JS, f'[data-session="{sid}"] video'), thumbs) for sid in sids]
    assert shown == [0, 1, 2, 3], shown
    assert all(t["focused"] == "0" and t["heard"] == "0" for t in _tiles(assessor))

    # 2. focus candidate 2: its full video, its sound; the assessor's microphone to candidate 2 only
    c2 = sids[1]
    assessor.click(f'[data-session="{c2}"] video')
    wait_until(lambda: _tile(assessor, c2)["focused"] == "1", 5, "tile 2 focused")
    wait_until(lambda: assessor.evaluate("window.classroom.focusTimes.length") > 0, 10, "a full frame after focus")
    focus = assessor.evaluate("window.classroom.focusTimes[0]")
    assert focus["session"] == c2 and focus["width"] == CAMERA_W, focus
    wait_until(lambda: assessor.evaluate("document.querySelector('[data-focus-video]').videoWidth") == CAMERA_W, 10,
               "the focused video at full size")
    assert _who(assessor.evaluate(THUMB_JS, "[data-focus-video]"), thumbs) == 1  # candidate 2's face, full size
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
    assert [t["session"] for t in _tiles(assessor)] == sids, _tiles(assessor)  # pointer over the grid: not reordered
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
