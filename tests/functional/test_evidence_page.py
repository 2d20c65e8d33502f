"""The evidence page in words people read: labels instead of raw codes (the code beside them), one time zone (the
LSP's) on the whole page, numbers in the page's language, and the auditor's way out: the one-file verifier with its
SHA-256 (also in the SOP dossier) and the guide."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token, satisfy_gate

ROOT = Path(__file__).resolve().parents[2]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200)


@pytest.fixture
def backend():
    """The page's logic is not database-specific; the LSP profile columns are covered by the drift test on both."""
    return "sqlite"


def _move(client, cast, *states):
    token = csrf_token(client, "/akun/kata-sandi")
    for to in states:
        r = client.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": to},
                        headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()


@pytest.fixture
def evidence_written(app, cast, database, login_as):
    """A session's evidence as the product writes it: state changes through the API, then events, a consent, a TUK
    check, a KTP photo and a recording chunk through the product's own services."""
    from remote_tuk.accounts.models import User
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import services as live

    satisfy_gate(database[0], cast.session_a)
    _move(login_as("asesor_a"), cast, "checking", "ready", "live")
    with app.app_context():
        store = evidence.store
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        cand = db.session.get(User, cast.users["asesi_a"])
        live.record_event(store, sess, "page.joined", by=cand, data={"role": "candidate"})
        live.record_event(store, sess, "media.stalled", data={"silent_s": 3})
        live.record_event(store, sess, "media.resumed", data={"downtime_s": 4})
        live.append_document(store, sess, "consent.fr_ak_01", {"accepted": True},
                             metadata={"kind": "fr_ak_01", "version": 1}, by=cand)
        live.append_document(store, sess, "tuk.check", {"passed": True}, metadata={"passed": True},
                             actor_ref=("system", "tuk-check"))
        store.append(cast.session_a, "identity.ktp_snapshot", JPEG, metadata={"mime": "image/jpeg"},
                     actor=live.actor(cand), candidate_id=str(cand.id))
        store.append(cast.session_a, "recording.browser_chunk", b"v" * 1500, metadata={"seq": 0},
                     actor=live.actor(cand), candidate_id=str(cand.id))
        entries = store.list_entries(cast.session_a)
    return entries


def _page(client, cast) -> str:
    resp = client.get(f"/sesi/{cast.session_a}/bukti")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _rows(page: str) -> list[tuple[str, str]]:
    """(label, code) of every entry row."""
    found = re.findall(r'<span data-kind-label>(.*?)</span><br><code class="small muted" data-kind-code>(.*?)</code>',
                       page)
    return [(unescape(a), unescape(b)) for a, b in found]


def _english(client):
    client.post("/bahasa", data={"lang": "en", "next": "/", "csrf_token": csrf_token(client, "/akun/kata-sandi")})
    return client


def test_every_entry_shows_its_label_with_the_code_beside_it(login_as, cast, evidence_written):
    page = _page(login_as("auditor_a"), cast)
    rows = dict((code, label) for label, code in _rows(page))
    assert rows["session.event · page.joined"] == "Halaman sesi langsung dibuka"
    assert rows["session.event · media.stalled"] == "Video asesi terhenti"
    assert rows["session.event · state.checking"] == "Status sesi: Pemeriksaan TUK"
    assert rows["session.event · state.live"] == "Status sesi: Berlangsung"
    assert rows["consent.fr_ak_01"] == "Persetujuan asesmen dan kerahasiaan (FR.AK.01)"
    assert rows["tuk.check"] == "Hasil pemeriksaan TUK jarak jauh"
    assert rows["identity.ktp_snapshot"] == "Foto KTP"
    assert rows["open"] == "Rantai bukti dibuka"
    for label, code in _rows(page):
        assert label != code and "." not in label.split(" ")[0], (label, code)  # no raw code as the label
    assert "potongan ke-0" in page and "versi 1" in page  # details in words, too
    lanes = re.findall(r'class="lane">(.*?)</text>', page)
    assert "Persetujuan dan pemeriksaan TUK" in lanes and "Peristiwa sesi" in lanes

    en = dict((code, label) for label, code in _rows(_page(_english(login_as("auditor_a")), cast)))
    assert en["session.event · page.joined"] == "Live session page opened"
    assert en["session.event · state.live"] == "Session state: Live"
    assert en["identity.ktp_snapshot"] == "KTP photo"


def test_times_are_in_the_lsps_zone_on_the_whole_page(app, login_as, cast, evidence_written):
    first = datetime.fromisoformat(evidence_written[0]["server_time"].replace("Z", "+00:00"))
    auditor = login_as("auditor_a")
    page = _page(auditor, cast)
    assert "(WIB)" in page and 'data-zone="WIB"' in page and "WITA" not in page
    ticks = re.findall(r'data-tick="">([0-9:]+)</text>', page)
    assert ticks[0] == (first + timedelta(hours=7)).strftime("%H:%M:%S")  # the axis is WIB, not UTC

    admin = login_as("admin")
    token = csrf_token(admin, "/admin/lsp")
    resp = admin.post("/admin/lsp", data={"csrf_token": token, "name": "LSP Uji", "lsp_type": "pihak_ketiga",
                                          "time_zone": "Asia/Makassar", "domain": ""})
    assert resp.status_code == 302
    page = _page(auditor, cast)
    assert "(WITA)" in page and 'data-zone="WITA"' in page and "WIB" not in page
    ticks = re.findall(r'data-tick="">([0-9:]+)</text>', page)
    assert ticks[0] == (first + timedelta(hours=8)).strftime("%H:%M:%S")
    cells = re.findall(r'<td title="[^"]*">([0-9:]+)</td>', page)
    assert cells[0] == (first + timedelta(hours=8)).strftime("%H:%M:%S")
    data = json.loads(re.search(r'<script type="application/json" id="rtuk-format">(.*?)</script>', page).group(1))
    assert data["zone"] == "Asia/Makassar" and data["zoneLabel"] == "WITA" and data["intl"] == "id-ID"
    assert "Video asesi tidak diterima" in page  # the stall is shaded, its times in the same zone
    shading = re.search(r"<rect [^>]*data-downtime=\"\"><title>([^<]*)</title>", page).group(1)
    assert "WITA" in shading and "detik" in shading


def test_numbers_and_sizes_in_the_pages_language(login_as, cast, evidence_written):
    chunk = next(e for e in evidence_written if e.get("type") == "recording.browser_chunk")
    kilo = f"{chunk['object']['size'] / 1000:.1f}"  # e.g. 1.7: the ciphertext of 1,500 bytes
    assert 1000 < chunk["object"]["size"] < 9950 and "." in kilo
    auditor = login_as("auditor_a")
    assert f"<td>{kilo.replace('.', ',')} kB</td>" in _page(auditor, cast)
    assert f"<td>{kilo} kB</td>" in _page(_english(auditor), cast)


def test_the_verifier_downloads_with_the_hash_the_page_and_the_dossier_show(app, login_as, cast, evidence_written):
    from evidence_store.standalone import standalone_verifier

    auditor = login_as("auditor_a")
    page = _page(auditor, cast)
    link = re.search(r'href="([^"]+)" download data-verifier-download>', page).group(1)
    shown = re.search(r"data-verifier-sha256>([0-9a-f]{64})<", page).group(1)
    resp = auditor.get(link)
    assert resp.status_code == 200 and 'filename="rtuk_verify.py"' in resp.headers["Content-Disposition"]
    assert hashlib.sha256(resp.data).hexdigest() == shown == resp.headers["X-Content-SHA256"]
    assert resp.data == standalone_verifier().data
    assert "python3 rtuk_verify.py verify" in unescape(page)
    assert auditor.get("/bukti/verifikator/verifier.py").status_code == 404
    assert login_as("asesi_a").get(link).status_code == 403

    with app.app_context():
        from remote_tuk.dossier.facts import gather
        from remote_tuk.extensions import db, evidence

        facts = gather(db.session, app.config["RTUK"], evidence.store.describe_parameters())
    assert facts.evidence.offline_verifier_sha256 == shown
    assert "rtuk_verify.py" in facts.evidence.offline_verifier


def test_the_auditors_guide_is_linked_and_readable(login_as, cast):
    auditor = login_as("auditor_a")
    page = _page(auditor, cast)  # linked even before the session has evidence
    guide = re.search(r'<a href="([^"]+)" data-verifying-guide>', page).group(1)
    resp = auditor.get(guide)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "data-verifying-guide-page" in text
    assert "<h1>Memverifikasi bundel bukti / Verifying an evidence bundle</h1>" in text
    article = text.split("data-verifying-guide-page")[1].split("</article>")[0]
    assert "rtuk_verify.py" in article and "<script" not in article


def test_the_lsp_domain_names_the_evidence_log(app, login_as, cast):
    from remote_tuk.accounts.models import User
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import services as live

    admin = login_as("admin")
    token = csrf_token(admin, "/admin/lsp")
    profile = {"csrf_token": token, "name": "LSP Uji", "lsp_type": "pihak_ketiga", "time_zone": "Asia/Jayapura"}
    bad = admin.post("/admin/lsp", data={**profile, "domain": "bukan domain!"})
    assert bad.status_code == 422 and "bukan nama domain" in bad.get_data(as_text=True)
    assert admin.post("/admin/lsp", data={**profile, "domain": "https://LSP-Uji.example/"}).status_code == 302
    form = admin.get("/admin/lsp").get_data(as_text=True)
    assert 'value="lsp-uji.example"' in form and '<option value="Asia/Jayapura" selected>' in form
    with app.app_context():
        store = evidence.store
        assert store.status()["origin"] == "lsp-uji.example/evidence" and not store.status()["origin_fixed"]
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        live.record_event(store, sess, "page.joined", by=db.session.get(User, cast.users["asesi_a"]))
        assert store.log.latest_checkpoint().startswith(b"lsp-uji.example/evidence\n")  # the first entry's
    # a later domain keeps the log's name: every checkpoint and bundle already handed out carries it
    assert admin.post("/admin/lsp", data={**profile, "domain": "baru.example"}).status_code == 302
    page = _page(login_as("auditor_a"), cast)
    assert "lsp-uji.example/evidence+" in page and "baru.example" not in page and "remote-tuk.example" not in page
    with app.app_context():
        assert evidence.store.checkpoint().startswith(b"lsp-uji.example/evidence\n")


# --- every kind the product writes has a label ---------------------------------------------------------------------


def _constants(trees: dict[Path, ast.Module]) -> dict[str, set[str]]:
    """Module-level string constants (NAME = "…") of every scanned file."""
    out: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in tree.body:
            if not isinstance(node, ast.Assign):
                continue
            for t in node.targets:
                pairs = zip(t.elts, node.value.elts, strict=False) \
                    if isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple) else [(t, node.value)]
                for name, value in pairs:
                    if isinstance(name, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                        out.setdefault(name.id, set()).add(value.value)
    return out


def _values(node: ast.AST, scope: ast.AST, consts: dict[str, set[str]]) -> set[str] | None:
    """The codes an argument can hold: literals, f-string prefixes (``state.*``), names assigned in the enclosing
    function or module, loop targets over tuples of constants. None: a parameter passed through (its caller counts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.JoinedStr):
        head = node.values[0]
        assert isinstance(head, ast.Constant), ast.unparse(node)
        return {head.value + "*"}
    if isinstance(node, ast.IfExp):
        return (_values(node.body, scope, consts) or set()) | (_values(node.orelse, scope, consts) or set())
    params = {a.arg for a in scope.args.args + scope.args.kwonlyargs} \
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else set()
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id in params:
            return None  # a field of an argument (an engine event's type): counted where it is made
        return consts.get(node.attr) or set()
    if isinstance(node, ast.Name):
        if node.id in params:
            return None
        found: set[str] = set()
        for sub in ast.walk(scope):
            if isinstance(sub, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id for t in sub.targets):
                value = _values(sub.value, scope, consts)
                if value is None:
                    return None  # a name for an argument's field (kind = event.type): counted where it is made
                found |= value
            if isinstance(sub, ast.For) and isinstance(sub.target, ast.Tuple) and isinstance(sub.iter, ast.Tuple):
                names = [t.id for t in sub.target.elts if isinstance(t, ast.Name)]
                if node.id in names:
                    for row in sub.iter.elts:
                        found |= _values(row.elts[names.index(node.id)], scope, consts) or set()
        return found or consts.get(node.id) or set()
    return set()


def _own_calls(scope: ast.AST):
    """The calls in ``scope`` that are not inside a function nested in it (those have their own scope)."""
    for child in ast.iter_child_nodes(scope):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(child, ast.Call):
            yield child
        yield from _own_calls(child)


def written_kinds() -> tuple[set[str], set[str]]:
    """(evidence types, session events) the code of remote_tuk/ and proctor/ writes."""
    files = [p for d in ("remote_tuk", "proctor") for p in (ROOT / d).rglob("*.py")]
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}
    consts = _constants(trees)
    types: set[str] = set()
    events: set[str] = set()
    for path, tree in trees.items():
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] + [tree]:
            for call in _own_calls(func):
                name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                owner = ast.unparse(call.func.value) if isinstance(call.func, ast.Attribute) else ""
                keywords = {k.arg for k in call.keywords}
                if name == "record_event" and len(call.args) > 2:
                    target, arg = events, call.args[2]
                elif name == "append_document" and len(call.args) > 2:
                    target, arg = types, call.args[2]
                elif name == "append" and len(call.args) > 2 and ("actor" in keywords or "sink" in owner):
                    target, arg = types, call.args[1]
                elif name == "_page_event" and len(call.args) > 2:  # remote_tuk/live/events.py's recorder
                    target, arg = events, call.args[2]
                elif name in ("emit", "_emit") and path.parts[-3:-1] == ("proctor", "rtc") and len(call.args) > 1:
                    target, arg = events, call.args[1]
                else:
                    continue
                found = _values(arg, func, consts)
                if found is None:
                    continue
                assert found, f"{path}:{call.lineno}: cannot tell which evidence code {ast.unparse(arg)} writes"
                target |= found
    return types, events


def test_every_kind_the_product_writes_has_a_label(app):
    from remote_tuk.assessment.models import SessionState
    from remote_tuk.consent import texts
    from remote_tuk.records import kinds

    types, events = written_kinds()
    assert {"session.event", "tuk.check", "identity.ktp_snapshot", "recording.server_segment"} <= types
    assert {"page.joined", "media.stalled", "state.*"} <= events
    with app.test_request_context():
        for code in types:
            if code.endswith("*"):
                prefix = code[:-1]
                assert prefix in kinds.FAMILIES, code
                if prefix == "consent.":  # every consent text the product has
                    assert all(f"consent.{k}" in kinds.TYPES for k in texts.KINDS), code
            else:
                assert code in kinds.TYPES, f"evidence type {code!r} has no label in remote_tuk/records/kinds.py"
        for code in events:
            if code == "state.*":
                for state in SessionState:
                    d = kinds.describe({"type": "session.event", "metadata": {"event": f"state.{state.value}"}},
                                       None)  # type: ignore[arg-type]
                    assert d.label.startswith("Status sesi: ") and state.value not in d.label
            elif code.endswith("*"):  # e.g. source.* (an extra source's engine events): labelled by their family
                assert code[:-1] in kinds.FAMILIES, code
            else:
                assert code in kinds.EVENTS, f"session event {code!r} has no label in remote_tuk/records/kinds.py"
