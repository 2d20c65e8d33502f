"""Admin pages for question banks: list, import/export, a bank with its versions, create / edit / retire a question."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from remote_tuk.accounts.models import Role
from remote_tuk.auth import current, roles_required
from remote_tuk.errors import DomainError, NotFound, ValidationFailed
from remote_tuk.extensions import db
from remote_tuk.instruments import services
from remote_tuk.instruments.bankfile import LETTERS
from remote_tuk.instruments.models import KIND_LABELS, QuestionKind
from remote_tuk.instruments.schemas import QuestionIn
from remote_tuk.lsp import services as lsp
from remote_tuk.validation import parse

bp = Blueprint("instruments", __name__, url_prefix="/admin/soal")
admin_only = roles_required(Role.LSP_ADMIN)
KINDS = frozenset(k.value for k in QuestionKind)


@bp.get("/")
@admin_only
def index() -> Any:
    return _index()


def _index(status: int = 200, error: str | None = None, details: Any = None) -> Any:
    return render_template(
        "instruments/index.html",
        rows=services.banks_overview(db.session),
        kinds=KIND_LABELS,
        import_error=error,
        import_details=details if isinstance(details, list) else [],
    ), status


@bp.post("/impor")
@admin_only
def import_bank() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index(422, "Pilih berkas .json atau .csv.")
    try:
        scheme, version = services.import_bank(db.session, upload.read(), upload.filename, actor=current())
    except DomainError as err:
        db.session.rollback()
        return _index(err.status, err.message, err.details)
    if version is None:
        flash(f"Bank soal {scheme.code} tidak berubah; tidak ada versi baru.", "info")
    else:
        flash(f"Bank soal {scheme.code} versi {version.number} diterbitkan: {version.question_count} soal.", "success")
    return redirect(url_for("instruments.bank", scheme_id=scheme.id))


@bp.get("/<int:scheme_id>")
@admin_only
def bank(scheme_id: int) -> Any:
    scheme = lsp.get_scheme(db.session, scheme_id)
    bank = services.bank_of(db.session, scheme)
    version = request.args.get("versi", type=int)
    latest = bank.version if bank else 0
    if version is not None and not 1 <= version <= latest:
        raise NotFound("Versi bank soal tidak ditemukan.")
    shown = version or latest
    revisions = services.revisions_at(db.session, bank, shown) if bank else []
    keys = services.keys_for(db.session, revisions)
    units: dict[int, list[Any]] = {}
    for rev in revisions:
        units.setdefault(rev.kuk.element.unit_id, []).append((rev, keys.get(rev.id)))
    return render_template(
        "instruments/bank.html",
        scheme=scheme,
        bank=bank,
        shown=shown,
        latest=latest,
        units=units,
        letters=LETTERS,
        kinds=KIND_LABELS,
    )


@bp.get("/<int:scheme_id>/ekspor.<fmt>")
@admin_only
def export(scheme_id: int, fmt: str) -> Any:
    scheme = lsp.get_scheme(db.session, scheme_id)
    version = request.args.get("versi", type=int)
    body = services.export(db.session, scheme, fmt, version)
    filename = f"bank-soal-{scheme.code}.{fmt}".replace("/", "_")
    return Response(
        body.encode("utf-8"),
        mimetype="application/json" if fmt == "json" else "text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _form_page(scheme: Any, *, question: Any = None, form: Any = None, errors: Any = None, status: int = 200) -> Any:
    return render_template(
        "instruments/question_form.html",
        scheme=scheme,
        question=question,
        form=form or {},
        errors=errors or {},
        kinds=KIND_LABELS,
        letters=LETTERS,
    ), status


def _parse_form() -> QuestionIn:
    return parse(QuestionIn, request.form)


@bp.route("/<int:scheme_id>/baru", methods=["GET", "POST"])
@admin_only
def create(scheme_id: int) -> Any:
    scheme = lsp.get_scheme(db.session, scheme_id)
    if request.method == "GET":
        kind = request.args.get("jenis", "")
        return _form_page(scheme, form={"type": kind if kind in KINDS else QuestionKind.MULTIPLE_CHOICE.value})
    try:
        data = _parse_form()
        question = services.create_question(db.session, scheme, data.data(), data.kuk_id, actor=current())
    except ValidationFailed as err:
        db.session.rollback()
        return _form_page(scheme, form=request.form, errors=_errors(err), status=err.status)
    flash(f"Soal {question.code} dibuat; bank soal versi baru diterbitkan.", "success")
    return redirect(url_for("instruments.bank", scheme_id=scheme.id))


@bp.route("/<int:scheme_id>/<int:question_id>/ubah", methods=["GET", "POST"])
@admin_only
def edit(scheme_id: int, question_id: int) -> Any:
    scheme = lsp.get_scheme(db.session, scheme_id)
    question = services.get_question(db.session, scheme, question_id)
    found = services.current_content(db.session, question)
    if found is None:
        raise NotFound("Soal ini sudah dipensiunkan.")
    if request.method == "GET":
        rev, content = found
        form: dict[str, Any] = {
            "code": question.code,
            "type": question.kind.value,
            "kuk_id": rev.kuk_id,
            "prompt": content.prompt,
            "correct": LETTERS[content.correct] if content.correct is not None else "",
            "expected_answer": content.expected_answer,
        }
        for i, text in enumerate(content.options):
            form[f"option_{LETTERS[i].lower()}"] = text
        return _form_page(scheme, question=question, form=form)
    try:
        data = _parse_form()
        changed = services.update_question(db.session, question, data.data(), data.kuk_id, actor=current())
    except ValidationFailed as err:
        db.session.rollback()
        return _form_page(scheme, question=question, form=request.form, errors=_errors(err), status=err.status)
    if changed:
        flash(f"Soal {question.code} diubah; bank soal versi baru diterbitkan.", "success")
    else:
        flash(f"Soal {question.code} tidak berubah.", "info")
    return redirect(url_for("instruments.bank", scheme_id=scheme.id))


@bp.post("/<int:scheme_id>/<int:question_id>/pensiun")
@admin_only
def retire(scheme_id: int, question_id: int) -> Any:
    scheme = lsp.get_scheme(db.session, scheme_id)
    question = services.get_question(db.session, scheme, question_id)
    services.retire_question(db.session, question, actor=current())
    flash(f"Soal {question.code} dipensiunkan; bank soal versi baru diterbitkan.", "success")
    return redirect(url_for("instruments.bank", scheme_id=scheme.id))


def _errors(err: ValidationFailed) -> dict[str, Any]:
    errors = dict(err.details) if isinstance(err.details, dict) else {}
    errors.setdefault("_", err.message)
    return errors
