"""Indonesian first, English second: every UI string has an English translation and the switch works."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]


def test_catalogue_covers_every_ui_string():
    method_map = [("remote_tuk/**.py", "python"), ("remote_tuk/templates/**.html", "jinja2")]
    found = {
        msg for _f, _l, msg, _c, _x in extract_from_dir(str(ROOT), method_map, keywords={"_": None, "gettext": None})
    }
    with (ROOT / "remote_tuk/translations/en/LC_MESSAGES/messages.po").open("rb") as fh:
        catalogue = read_po(fh)
    missing = sorted(m for m in found if isinstance(m, str) and (m not in catalogue or not catalogue[m].string))
    assert not missing, f"untranslated: {missing}"


def test_default_is_indonesian_and_english_on_request(client, cast):
    page = client.get("/masuk").get_data(as_text=True)
    assert '<html lang="id">' in page and "Nama pengguna" in page
    token = csrf_token(client)
    resp = client.post("/bahasa", data={"lang": "en", "next": "/masuk", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/masuk")
    page = client.get("/masuk").get_data(as_text=True)
    assert '<html lang="en">' in page and "Username" in page and "Sign in" in page


def test_unknown_language_is_ignored(client, cast):
    token = csrf_token(client)
    client.post("/bahasa", data={"lang": "xx", "csrf_token": token})
    assert '<html lang="id">' in client.get("/masuk").get_data(as_text=True)
