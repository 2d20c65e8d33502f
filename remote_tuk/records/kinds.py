"""The one catalogue of what evidence entries are called in the UI: a label (Indonesian source, English through the
message catalogue) for every evidence type and session event the product writes, the timeline lane it is drawn in,
and how its details read. The evidence page, its timeline and anything else that shows evidence kinds use
:func:`describe`; the raw code stays visible as a secondary detail, because it is what the bundle and the auditor's
verifier show.

Adding a kind (a proctoring finding, a browser signal, an appeal step …) is one call at import time of the feature
package that writes it, e.g.::

    from remote_tuk.records import kinds
    from flask_babel import lazy_gettext as _

    kinds.register_lane("findings", _("Temuan pengawasan"), "#dc2626", after="events")
    kinds.register_type("proctor.finding", _("Temuan pengawasan otomatis"), lane="findings",
                        detail=lambda meta, fmt: meta.get("signal", ""))
    kinds.register_event("browser.tab_hidden", _("Asesi meninggalkan tab ujian"), lane="findings")

plus the English entries in messages.po. ``tests/functional/test_evidence_page.py`` reads the code for every kind
the product writes (``record_event`` / ``append_document`` / ``store.append`` calls) and fails if one has no label.
A code nobody registered still shows: under its family's label (``page.…`` → "Halaman sesi"), with its code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask_babel import gettext
from flask_babel import lazy_gettext as _

from remote_tuk.assessment.models import STATE_LABELS, SessionState


class NumberFormat(Protocol):
    def number(self, value: float, decimals: int = 0) -> str: ...

    def size(self, n: int) -> str: ...


Detail = Callable[[dict[str, Any], NumberFormat], str]


@dataclass(frozen=True)
class Lane:
    key: str
    label: Any  # a lazy translated string
    colour: str


@dataclass(frozen=True)
class Kind:
    code: str
    label: Any  # a lazy translated string
    lane: str = "other"
    #: drawn as a diamond on the timeline (a moment that closes or decides something), not a tick
    milestone: bool = False
    detail: Detail | None = None


@dataclass(frozen=True)
class Described:
    """An entry as people read it: ``label`` in the page's language, ``code`` as the log has it."""

    label: str
    code: str
    lane: str
    milestone: bool
    detail: str


LANES: list[Lane] = []
TYPES: dict[str, Kind] = {}
EVENTS: dict[str, Kind] = {}
#: families of codes (prefix → label for a code of the family nobody registered)
FAMILIES: dict[str, Any] = {}


def register_lane(key: str, label: Any, colour: str, *, after: str | None = None) -> None:
    lane = Lane(key, label, colour)
    keys = [x.key for x in LANES]
    if key in keys:
        LANES[keys.index(key)] = lane
    elif after in keys:
        LANES.insert(keys.index(after) + 1, lane)
    else:
        LANES.append(lane)


def register_type(code: str, label: Any, *, lane: str = "other", milestone: bool = False,
                  detail: Detail | None = None) -> None:
    """An evidence item type (the entry's ``type``), or a log entry kind (``open``, ``close``, ``read`` …)."""
    TYPES[code] = Kind(code, label, lane, milestone, detail)


def register_event(code: str, label: Any, *, lane: str = "events", milestone: bool = False) -> None:
    """A session event (``session.event`` items, their ``metadata.event``)."""
    EVENTS[code] = Kind(code, label, lane, milestone)


def register_family(prefix: str, label: Any) -> None:
    FAMILIES[prefix] = label


def _state_event(code: str) -> Kind | None:
    """``state.<state>``: the session moved to that state (every state of the state machine has a label)."""
    if not code.startswith("state."):
        return None
    try:
        state = SessionState(code.removeprefix("state."))
    except ValueError:
        return None
    return Kind(code, _StateLabel(state), "events", milestone=state in (SessionState.LIVE, SessionState.ENDED,
                                                                           SessionState.DECIDED))


class _StateLabel:
    def __init__(self, state: SessionState):
        self.state = state

    def __str__(self) -> str:
        return gettext("Status sesi: %(state)s", state=gettext(STATE_LABELS[self.state]))


def _family(code: str) -> Any:
    for prefix, label in FAMILIES.items():
        if code.startswith(prefix):
            return label
    return None


def describe(entry: dict[str, Any], fmt: NumberFormat) -> Described:
    """What an entry of a session's chain is called, where it is drawn and its details, in the page's language."""
    kind = entry.get("kind", "")
    type_ = entry.get("type") or kind
    meta = entry.get("metadata") or {}
    found = TYPES.get(type_)
    code = type_
    if type_ == "session.event" and isinstance(meta.get("event"), str):
        event = meta["event"]
        code = f"{type_} · {event}"
        found_event = EVENTS.get(event) or _state_event(event)
        if found_event is not None:
            return Described(str(found_event.label), code, found_event.lane, found_event.milestone, "")
        family = _family(event)
        label = family if family is not None else (found.label if found else type_)
        return Described(str(label), code, "events", False, "")
    if found is None:
        family = _family(type_)
        return Described(str(family) if family is not None else type_, code, "other", False, "")
    detail = ""
    if found.detail is not None:
        try:
            detail = found.detail(meta, fmt)
        except (KeyError, TypeError, ValueError):
            detail = ""  # metadata of an older shape: the label and the code still say what it is
    return Described(str(found.label), code, found.lane, found.milestone, detail)


def lane_of(key: str) -> Lane:
    for lane in LANES:
        if lane.key == key:
            return lane
    return LANES[-1]


# --- the product's own kinds ---------------------------------------------------------------------------------------

register_lane("pre_session", _("Persetujuan dan pemeriksaan TUK"), "#0891b2")
register_lane("recording_browser", _("Rekaman peramban"), "#0f766e")
register_lane("recording_server", _("Rekaman server"), "#2563eb")
register_lane("events", _("Peristiwa sesi"), "#6b7280")
register_lane("assessment", _("Penilaian KUK dan keputusan"), "#b45309")
register_lane("chat", _("Obrolan"), "#7c3aed")
register_lane("log", _("Log bukti"), "#111827")
register_lane("other", _("Lainnya"), "#9ca3af")

register_type("open", _("Rantai bukti dibuka"), lane="log", milestone=True)
register_type("close", _("Rantai bukti ditutup"), lane="log", milestone=True)
register_type("read", _("Bukti dibuka dan dibaca"), lane="log")
register_type("key_shred", _("Kunci data dimusnahkan"), lane="log")
register_type("object_stored", _("Objek tersimpan di penyimpanan bukti"), lane="log")
register_type("quarantine", _("Dikarantina saat pemulihan"), lane="log")
register_type("kek_rotate", _("Kunci pembungkus dirotasi"), lane="log")

register_type("consent.fr_ak_01", _("Persetujuan asesmen dan kerahasiaan (FR.AK.01)"), lane="pre_session",
              detail=lambda m, f: gettext("versi %(v)s", v=m["version"]) if "version" in m else "")
register_type("consent.pdp", _("Persetujuan pemrosesan data pribadi (UU PDP)"), lane="pre_session",
              detail=lambda m, f: gettext("versi %(v)s", v=m["version"]) if "version" in m else "")
register_type("consent.fr_ak_01_assessor", _("Tanda tangan asesor pada FR.AK.01"), lane="pre_session")
register_type("consent.withdrawn", _("Persetujuan ditarik oleh asesi"), lane="pre_session", milestone=True)
register_family("consent.", _("Persetujuan asesi"))
register_type("tuk.check", _("Hasil pemeriksaan TUK jarak jauh"), lane="pre_session")
register_type("tuk.override", _("Pengecualian persyaratan TUK oleh asesor"), lane="pre_session",
              detail=lambda m, f: str(m.get("key", "")))
register_family("tuk.", _("Pemeriksaan TUK"))
register_type("identity.ktp_snapshot", _("Foto KTP"), lane="pre_session")
register_type("identity.room_scan", _("Rekaman pemindaian ruangan"), lane="pre_session")
register_type("identity.confirmation", _("Konfirmasi asesor atas identitas atau ruangan"), lane="pre_session",
              detail=lambda m, f: {"id": gettext("identitas"), "room": gettext("ruangan")}.get(m.get("what"), ""))
register_family("identity.", _("Identitas asesi"))
# the trial (uji coba, remote_tuk/trial): in the trial's own chain trial-<id>, never a session's
register_type("trial.check", _("Hasil pemeriksaan TUK pada uji coba"), lane="pre_session")
register_type("trial.selftest", _("Rekaman uji pada uji coba"), lane="pre_session")
register_family("trial.", _("Uji coba"))

register_type("recording.browser_chunk", _("Potongan rekaman peramban"), lane="recording_browser",
              detail=lambda m, f: gettext("potongan ke-%(n)s", n=m["seq"]))
register_type("recording.browser_full", _("Rekaman peramban utuh"), lane="recording_browser", milestone=True)
register_type("recording.server_segment", _("Segmen rekaman server"), lane="recording_server",
              detail=lambda m, f: gettext("segmen %(i)s, %(n)s bingkai", i=m["index"], n=f.number(m["frames"])))
register_lane("instruments", _("Instrumen asesmen (APL, soal)"), "#be185d", after="assessment")
register_type("apl.portfolio", _("Berkas portofolio asesi (FR.APL.02)"), lane="instruments")
register_type("apl.submission", _("Permohonan dan asesmen mandiri dikirim (FR.APL.01/02)"), lane="instruments",
              milestone=True)
register_type("apl.review", _("Tinjauan asesor atas FR.APL"), lane="instruments")
register_family("apl.", _("Permohonan sertifikasi (FR.APL)"))
register_type("instrument.bank_pinned", _("Versi bank soal ditetapkan untuk sesi"), lane="instruments")
register_family("instrument.", _("Instrumen asesmen"))
register_type("written.opened", _("Tes tertulis dibuka untuk asesi (FR.IA.05/06)"), lane="instruments",
              detail=lambda m, f: gettext("%(n)s soal", n=m.get("questions", "")))
register_type("written.answer", _("Jawaban tes tertulis disimpan"), lane="instruments",
              detail=lambda m, f: gettext("soal %(q)s, versi %(v)s", q=m.get("uid", ""), v=m.get("version", "")))
register_type("written.closed", _("Tes tertulis ditutup dan pilihan ganda dinilai"), lane="instruments",
              milestone=True,
              detail=lambda m, f: gettext("%(n)s soal", n=m.get("questions", "")))
register_type("written.essay_score", _("Penilaian esai oleh asesor (FR.IA.06)"), lane="assessment",
              detail=lambda m, f: gettext("soal %(q)s, versi %(v)s", q=m.get("uid", ""), v=m.get("version", "")))
register_family("written.", _("Tes tertulis"))
register_type("oral.question", _("Pertanyaan lisan dinilai (FR.IA.07)"), lane="assessment",
              detail=lambda m, f: gettext("pertanyaan %(n)s, versi %(v)s", n=m.get("number", ""),
                                          v=m.get("version", "")))
register_family("oral.", _("Pertanyaan lisan"))
register_type("session.event", _("Peristiwa sesi"), lane="events")
register_type("session.chat", _("Pesan obrolan"), lane="chat")
register_type("assessment.kuk_mark", _("Penilaian KUK"), lane="assessment",
              detail=lambda m, f: gettext("KUK %(k)s, versi %(v)s", k=m["kuk_id"], v=m["version"]))
register_type("assessment.unit_decision", _("Keputusan unit kompetensi"), lane="assessment", milestone=True)
register_type("sop_dossier_pdf", _("Dosir SOP (PDF)"), lane="other", milestone=True)
register_type("sop_dossier_docx", _("Dosir SOP (DOCX)"), lane="other")
register_type("sop_dossier_manifest", _("Manifes dosir SOP"), lane="other")

register_event("page.joined", _("Halaman sesi langsung dibuka"))
register_event("page.left", _("Halaman sesi langsung ditutup"))
register_event("page.disconnected", _("Halaman sesi langsung terputus"))
register_family("page.", _("Halaman sesi langsung"))
register_event("peer.joined", _("Koneksi media tersambung ke server"))
register_event("peer.state", _("Status koneksi media berubah"))
register_event("peer.left", _("Koneksi media berakhir"))
register_event("peer.reconnecting", _("Koneksi media disambung ulang"))
register_family("peer.", _("Koneksi media"))
register_event("media.started", _("Server mulai menerima media asesi"))
register_event("media.stalled", _("Video asesi terhenti"))
register_event("media.resumed", _("Video asesi kembali"))
register_event("media.ended", _("Media asesi berakhir"))
register_family("media.", _("Media asesi"))
register_event("recording.segment", _("Segmen rekaman server ditulis"))
register_event("recording.error", _("Kesalahan perekaman server"))
register_event("recording.gap", _("Celah pada rekaman peramban"))
register_event("recording.conflict", _("Potongan rekaman yang bertentangan ditolak"))
register_event("recording.conflicts", _("Jumlah potongan rekaman bertentangan berikutnya"))
register_event("recording.join_failed", _("Penggabungan rekaman peramban gagal"))
register_family("recording.", _("Perekaman"))
register_event("session.closed", _("Sesi media ditutup di server"))
# issue 19: the phone as a second camera and the screen share
register_type("recording.source_chunk", _("Potongan rekaman sumber tambahan (HP atau layar)"), lane="recording_browser",
              detail=lambda m, f: gettext("%(s)s, potongan ke-%(n)s", s=m.get("stream", ""), n=m.get("seq", "")))
register_type("recording.source_segment", _("Segmen rekaman server dari sumber tambahan"), lane="recording_server",
              detail=lambda m, f: str(m.get("stream", "")))
register_event("source.link_issued", _("Kode QR kamera HP dibuat"))
register_event("source.link_used", _("Tautan kamera HP dipakai"))
register_event("source.link_refused", _("Tautan kamera HP ditolak"))
register_event("source.peer.joined", _("Sumber tambahan tersambung ke server"))
register_event("source.peer.left", _("Koneksi sumber tambahan berakhir"))
register_event("source.media.started", _("Server mulai menerima video sumber tambahan"))
register_event("source.media.stalled", _("Video sumber tambahan terhenti"))
register_family("source.", _("Sumber media tambahan (HP, layar)"))
register_event("screen.share_started", _("Asesi mulai membagikan seluruh layar"))
register_event("screen.share_refused", _("Berbagi jendela atau tab ditolak"))
register_family("screen.", _("Berbagi layar"))
register_family("state.", _("Status sesi"))
register_type("assessment.fr_ak_02", _("Rekaman asesmen FR.AK.02 (PDF bertanda tangan)"), lane="assessment",
              milestone=True, detail=lambda m, f: gettext("versi %(v)s", v=m["version"]) if "version" in m else "")
register_type("assessment.fr_ak_05", _("Laporan asesmen FR.AK.05 (PDF bertanda tangan)"), lane="assessment",
              milestone=True, detail=lambda m, f: gettext("versi %(v)s", v=m["version"]) if "version" in m else "")
register_lane("appeal", _("Banding (FR.AK.04)"), "#9333ea", after="assessment")
register_type("appeal.submitted", _("Banding diajukan oleh asesi"), lane="appeal", milestone=True)
register_type("appeal.assigned", _("Penelaah banding ditugaskan"), lane="appeal")
register_type("appeal.decided", _("Banding diputuskan"), lane="appeal", milestone=True)
register_family("appeal.", _("Banding (FR.AK.04)"))
register_type("assessment.fr_ak_03", _("Umpan balik FR.AK.03 (PDF bertanda tangan)"), lane="assessment",
              milestone=True, detail=lambda m, f: gettext("versi %(v)s", v=m["version"]) if "version" in m else "")
register_type("feedback.fr_ak_03_ack", _("Asesi menanggapi umpan balik (FR.AK.03)"), lane="assessment")
register_family("feedback.", _("Umpan balik (FR.AK.03)"))
register_type("assessment.fr_ak_06", _("Tinjauan proses asesmen FR.AK.06 (PDF bertanda tangan)"), lane="assessment",
              milestone=True, detail=lambda m, f: gettext("versi %(v)s", v=m["version"]) if "version" in m else "")
register_type("process_review.fr_ak_06", _("Jawaban tinjauan proses asesmen (FR.AK.06)"), lane="assessment")
register_family("process_review.", _("Tinjauan proses asesmen (FR.AK.06)"))

# live proctoring (remote_tuk.proctoring): findings measured by the server, signals reported by the browser
register_lane("findings", _("Temuan pengawasan"), "#dc2626", after="events")
register_type("proctoring.finding", _("Temuan pengawasan (diukur server)"), lane="findings",
              detail=lambda m, f: f"{m.get('kind', '')} · {m.get('phase', '')}")
register_type("proctoring.snapshot", _("Cuplikan bingkai temuan pengawasan"), lane="findings",
              detail=lambda m, f: str(m.get("kind", "")))
register_type("proctoring.browser_signal", _("Sinyal pengawasan (dilaporkan peramban)"), lane="findings",
              detail=lambda m, f: str(m.get("kind", "")))
register_type("proctoring.finding_label", _("Label asesor atas temuan pengawasan"), lane="findings",
              detail=lambda m, f: f"{m.get('kind', '')} · {m.get('label', '')}")
register_type("proctoring.quiet_phase", _("Fase tenang diatur asesor"), lane="findings")
register_type("proctoring.reference", _("Acuan wajah dari foto KTP untuk pengawasan"), lane="findings")
register_family("proctoring.", _("Pengawasan langsung"))
