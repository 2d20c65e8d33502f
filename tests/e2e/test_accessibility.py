"""Issue 19 #6: the candidate's pages are accessible, as Lighthouse scores them (accessibility ≥ 90), on a phone-size
screen (Lighthouse's mobile emulation, 412×823) and on a 1366×768 laptop.

Lighthouse comes from npm, pinned in tools/a11y (``make test`` installs it). It drives its own headless Chromium,
signed in as the candidate through the session cookie taken from a real sign-in.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.components import require
from tests.e2e.conftest import CHROMIUM, Server, chromium_available, sign_in

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LIGHTHOUSE = ROOT / "tools" / "a11y" / "node_modules" / ".bin" / "lighthouse"
MIN_SCORE = 0.9
LAPTOP = ["--preset=desktop", "--screenEmulation.width=1366", "--screenEmulation.height=768",
          "--screenEmulation.deviceScaleFactor=1"]


@pytest.fixture(scope="module")
def candidate_site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require(chromium_available(), "Chromium", "apt-get install chromium; pip install playwright")
    require(LIGHTHOUSE.exists(), "Lighthouse", "make test installs it (cd tools/a11y && npm ci)")
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("a11y")
    server = Server(tmp)
    server.prepare()
    server.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_context().new_page()
            sign_in(page, server.url(), "asesi_a")
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
            browser.close()
        yield server, cookie, tmp
    finally:
        server.stop()


def lighthouse(url: str, cookie: str, out: Path, extra: list[str]) -> dict[str, Any]:
    flags = "--headless=new --no-sandbox --use-fake-device-for-media-stream --use-fake-ui-for-media-stream"
    run = subprocess.run(
        [str(LIGHTHOUSE), url, "--only-categories=accessibility", "--output=json", f"--output-path={out}", "--quiet",
         f"--chrome-flags={flags}", "--extra-headers", json.dumps({"Cookie": cookie}), *extra],
        env={**os.environ, "CHROME_PATH": CHROMIUM}, capture_output=True, text=True, timeout=180, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def failures(report: dict[str, Any]) -> list[str]:
    out = []
    for key, audit in report["audits"].items():
        if audit.get("scoreDisplayMode") == "binary" and audit.get("score") == 0:
            nodes = [i.get("node", {}).get("snippet", "")[:120] for i in (audit.get("details") or {}).get("items", [])]
            out.append(f"{key}: {nodes[:3]}")
    return out


PAGES = {
    "dashboard": "/asesi/",
    "check": "/sesi/{sid}/pemeriksaan",
    "live": "/sesi/{sid}/langsung",
    "apl": "/sesi/{sid}/apl",
    "fr_ak_01": "/sesi/{sid}/fr-ak-01",
}


# every page on a phone; the pages a candidate works in during the session on the laptop too
RUNS = [(name, "phone") for name in PAGES] + [(name, "laptop") for name in ("dashboard", "check", "live")]


@pytest.mark.parametrize(("name", "screen"), RUNS)
def test_candidate_page_scores_at_least_90(candidate_site: Any, name: str, screen: str) -> None:
    server, cookie, tmp = candidate_site
    url = server.url() + PAGES[name].format(sid=server.cast.session_a)
    report = lighthouse(url, cookie, tmp / f"{name}-{screen}.json", LAPTOP if screen == "laptop" else [])
    assert "/masuk" not in report["finalDisplayedUrl"], "Lighthouse was not signed in"
    score = report["categories"]["accessibility"]["score"]
    print(f"\nLIGHTHOUSE {name} {screen}: {score * 100:.0f}")
    print("  failing audits:", failures(report))
    assert score >= MIN_SCORE, (score, failures(report))
