"""FR.APL.01/02 in Debian Chromium against the real server: the LSP requires it, the candidate's session page shows it
first, the candidate fills the application and the self-assessment, uploads a portfolio file (with a progress bar;
a file that is not what its name says is refused with a message), submits, and the assessor reviews it.

One server and one browser serve every test of this module (tests/e2e's ``Server``; the TUK gate it pre-satisfies
plays no part here)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.components import require
from tests.e2e.conftest import CHROMIUM, Server, api, chromium_available, sign_in, wait_until
from tests.e2e.test_live_session import shot

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    srv = Server(tmp_path_factory.mktemp("apl-server"))
    srv.prepare()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Pages:
    """Signed-in pages, one browser context each; their script errors and failed requests are kept."""

    def __init__(self, browser: Any, server: Server) -> None:
        self.browser, self.server = browser, server
        self.contexts: list[Any] = []
        self.log: list[str] = []

    def __call__(self, username: str) -> Any:
        ctx = self.browser.new_context(viewport={"width": 1280, "height": 900})
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: self.log.append(f"{username} pageerror: {e}"))
        page.on("response", lambda r: r.status >= 400 and self.log.append(f"{username} HTTP {r.status} {r.url}"))
        sign_in(page, self.server.url(), username, self.server.cast.totp.get(username))
        return page

    def failures(self) -> list[str]:
        return [line for line in self.log if "pageerror" in line or " HTTP " in line]


@pytest.fixture
def page_as(browser: Any, server: Server) -> Iterator[Pages]:
    pages = Pages(browser, server)
    yield pages
    for ctx in pages.contexts:
        ctx.close()


def _png(path: Path) -> Path:
    buf = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 140, 90)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return path


def test_required_apl_filled_with_an_upload_submitted_and_reviewed(server: Server, page_as: Any, tmp_path: Path):
    base, sid = server.url(), server.cast.session_a

    # the LSP requires FR.APL before the TUK check (admin page)
    admin = page_as("admin")
    admin.goto(f"{base}/admin/apl")
    row = admin.locator("tr[data-scheme='SKM-JWD-2026']")
    row.locator("input[name=required]").check()
    with admin.expect_navigation():
        row.locator("button").click()
    assert admin.locator("tr[data-scheme='SKM-JWD-2026'] input[name=required]").is_checked()

    cand = page_as("asesi_a")
    cand.goto(f"{base}/asesi/")
    assert "wajib diisi sebelum pemeriksaan TUK" in cand.text_content("[data-apl-status]")
    cand.goto(f"{base}/sesi/{sid}")
    assert cand.get_attribute("[data-apl-panel]", "data-apl-blocking") == "1"
    shot(cand, "apl-session-page")
    with cand.expect_navigation():
        cand.click("[data-apl-panel] a.button")
    assert cand.url.endswith(f"/sesi/{sid}/apl")

    # FR.APL.01
    cand.fill("input[name=birth_place]", "Bandung")
    cand.fill("input[name=birth_date]", "1999-07-15")
    cand.select_option("select[name=gender]", "P")
    cand.fill("textarea[name=address]", "Jl. Dago No. 12, Bandung")
    cand.fill("input[name=postal_code]", "40135")
    cand.select_option("select[name=education]", "SMA/SMK")
    cand.fill("input[name=education_institution]", "SMK Negeri 4 Bandung")
    assert cand.locator("[data-employment]").is_hidden()
    cand.check("input[name=employed]")
    cand.fill("input[name=company]", "CV Kode Nusantara")
    cand.fill("input[name=position]", "Pengembang web junior")
    cand.check("input[name=purpose][value=sertifikasi]")
    wait_until(lambda: cand.get_attribute("#apl", "data-saved"), 20, "the draft autosaved")

    # a file whose name says PNG but whose bytes do not is refused with the server's message
    fake = tmp_path / "ijazah.png"
    fake.write_bytes(b"bukan gambar " * 100)
    cand.set_input_files("[data-upload-file]", str(fake))
    cand.fill("[data-upload-title]", "Ijazah palsu")
    cand.click("[data-action=upload]")
    wait_until(lambda: "PDF, JPEG atau PNG" in (cand.text_content("[data-apl-message]") or ""), 20, "the refusal")

    # a real portfolio file: progress, then the page shows it from the server
    cand.set_input_files("[data-upload-file]", str(_png(tmp_path / "sertifikat.png")))
    cand.fill("[data-upload-title]", "Sertifikat pelatihan web")
    with cand.expect_navigation():
        cand.click("[data-action=upload]")
    cand.wait_for_selector("[data-portfolio] li[data-item]")
    shot(cand, "apl-candidate-uploaded")
    assert "Sertifikat pelatihan web" in cand.text_content("[data-portfolio]")
    # the draft survived the reload
    assert cand.input_value("input[name=company]") == "CV Kode Nusantara"

    # FR.APL.02: K everywhere with evidence, the last element BK
    rows = cand.locator("tr[data-element-id]")
    count = rows.count()
    assert count == 8  # the demo scheme's elements
    for i in range(count):
        row = rows.nth(i)
        if i == count - 1:
            row.locator("input[value=BK]").check()
            continue
        row.locator("input[value=K]").check()
        if i == 0:
            row.locator("input[type=checkbox]").first.check()
        else:
            row.locator("textarea").fill("Proyek toko daring di tempat kerja")

    # without the declaration nothing is sent; with it, version 1 is submitted
    cand.click("[data-action=submit]")
    wait_until(lambda: cand.locator("[data-field=declaration] [data-error]").is_visible()
               or "Centang" in (cand.text_content("[data-apl-message]") or ""), 10, "the declaration asked for")
    cand.check("[data-declaration]")
    with cand.expect_navigation():
        cand.click("[data-action=submit]")
    cand.wait_for_selector("[data-step=submit][data-done='1']")
    shot(cand, "apl-candidate-submitted")
    status, state = api(cand, "GET", f"/api/v1/sessions/{sid}/apl")
    assert status == 200 and state["submission"]["version"] == 1 and state["blocking"] == []
    assert state["draft"]["apl02"][str(next(iter(state["draft"]["apl02"])))]["verdict"] == "K"
    item = state["portfolio"][0]
    assert item["mime"] == "image/png" and item["title"] == "Sertifikat pelatihan web"
    cand.goto(f"{base}/sesi/{sid}")
    assert cand.get_attribute("[data-apl-panel]", "data-apl-blocking") == "0"

    # the assessor reviews: answers, the file decrypted from the evidence store, the recommendation
    asse = page_as("asesor_a")
    asse.goto(f"{base}/sesi/{sid}")
    with asse.expect_navigation():
        asse.click("[data-apl-panel] a")
    shot(asse, "apl-assessor-review")
    assert "SMK Negeri 4 Bandung" in asse.text_content("[data-apl01-view]")
    assert "Belum kompeten (BK)" in asse.text_content("[data-apl02-view]")
    link = asse.locator("[data-portfolio] a").first
    assert link.text_content() == "Sertifikat pelatihan web"
    file = asse.request.get(base + link.get_attribute("href"))
    assert file.status == 200 and file.headers["content-type"] == "image/png"
    assert file.body() == (tmp_path / "sertifikat.png").read_bytes()
    # the only failed request of the whole run is the refused upload; no script error anywhere
    assert [line.split("?")[0] for line in page_as.failures()] == [
        f"asesi_a HTTP 422 {base}/api/v1/sessions/{sid}/apl/portfolio"
    ]
    asse.check("input[name=decision][value=proceed]")
    asse.fill("textarea[name=note]", f"Bukti relevan ({uuid.uuid4().hex[:6]}).")
    with asse.expect_navigation():
        asse.click("[data-review-form] button")
    assert asse.get_attribute("[data-decision]", "data-decision") == "proceed"
    cand.goto(f"{base}/sesi/{sid}")
    assert "Dapat dilanjutkan" in cand.text_content("[data-apl-panel]")
