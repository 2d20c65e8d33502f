"""Command line: ``python -m sop build --out dossier.pdf [--docx dossier.docx] [--inputs facts.json]``.

Without ``--inputs`` the facts come from the provider named by ``RTUK_SOP_FACTS_PROVIDER`` ("module:function",
loaded by name at run time and called without arguments; it returns :class:`~sop.inputs.DossierInputs` or a dict).

Exit codes: 0 done; 1 facts missing (the list is printed, no file written); 2 usage, inputs or provider error;
3 the build or signature failed; 4 ``verify`` found the signature invalid.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.settings import load_settings
from sop.inputs import DossierInputs

EXIT_MISSING, EXIT_INPUTS, EXIT_BUILD, EXIT_INVALID = 1, 2, 3, 4


class ProviderError(RuntimeError):
    pass


def load_provider(spec: str) -> Any:
    """Resolve "module:function" to the callable."""
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise ProviderError(f"RTUK_SOP_FACTS_PROVIDER '{spec}' harus berbentuk 'modul:fungsi'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProviderError(f"Modul penyedia fakta '{module_name}' tidak dapat dimuat: {exc}") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ProviderError(f"Modul '{module_name}' tidak memiliki fungsi '{func_name}'.")
    return func


def _inputs_from(args: argparse.Namespace) -> DossierInputs:
    if args.inputs:
        try:
            data = json.loads(Path(args.inputs).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ProviderError(f"Berkas masukan {args.inputs} tidak dapat dibaca: {exc}") from exc
        return DossierInputs.model_validate(data)
    spec = load_settings().sop.facts_provider
    provider = load_provider(spec)
    try:
        result = provider()
    except Exception as exc:
        raise ProviderError(f"Penyedia fakta '{spec}' gagal: {exc}") from exc
    if isinstance(result, DossierInputs):
        return result
    return DossierInputs.model_validate(result)


def _cmd_build(args: argparse.Namespace) -> int:
    from sop.build import build_dossier
    from sop.missing import MissingFactsError
    from sop.sign import SigningError, load_signer

    try:
        inputs = _inputs_from(args)
    except ProviderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUTS
    except ValidationError as exc:
        print(f"error: masukan tidak valid:\n{exc}", file=sys.stderr)
        return EXIT_INPUTS
    signer = None
    try:
        if not args.no_sign:
            settings = load_settings()
            demo_dir = Path(args.demo_cert_dir) if args.demo_cert_dir else settings.var_dir / "sop"
            signer = load_signer(settings.sop, demo_dir=demo_dir)
        result = build_dossier(inputs, pdf_path=args.out, docx_path=args.docx, signer=signer)
    except MissingFactsError as exc:
        print(f"Dossier tidak dibuat: {len(exc.missing)} data belum diisi.", file=sys.stderr)
        for fact in exc.missing:
            print(f"- [{fact.key}] {fact.message}", file=sys.stderr)
        return EXIT_MISSING
    except SigningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUILD
    print(f"PDF: {result.pdf_path} ({result.page_count} halaman)")
    if result.docx_path:
        print(f"DOCX: {result.docx_path}")
    print(f"SHA-256 manifes: {result.manifest_sha256}")
    if result.demo_signature:
        print("PERINGATAN: ditandatangani dengan sertifikat DEMO (tidak sah untuk pengajuan).")
    elif not result.signed:
        print("PDF tidak ditandatangani.")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from sop.build import build_dossier
    from sop.missing import MissingFactsError

    try:
        inputs = _inputs_from(args)
        result = build_dossier(inputs, html_only=True)
    except (ProviderError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUTS
    except MissingFactsError as exc:
        for fact in exc.missing:
            print(f"- [{fact.key}] {fact.message}", file=sys.stderr)
        return EXIT_MISSING
    Path(args.out).write_text(result.html, encoding="utf-8")
    print(f"HTML: {args.out}")
    return 0


def _cmd_schema(_: argparse.Namespace) -> int:
    print(json.dumps(DossierInputs.model_json_schema(), indent=2, ensure_ascii=False))
    return 0


def _cmd_example(_: argparse.Namespace) -> int:
    from sop.example import example_inputs

    print(example_inputs().model_dump_json(indent=2, exclude_none=True))
    return 0


def _cmd_missing(args: argparse.Namespace) -> int:
    from sop.missing import missing_facts

    try:
        inputs = _inputs_from(args)
    except (ProviderError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUTS
    missing = missing_facts(inputs)
    for fact in missing:
        print(f"- [{fact.key}] {fact.message}")
    return EXIT_MISSING if missing else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from sop.sign import verify_pdf_signature

    check = verify_pdf_signature(args.pdf)
    if check.valid:
        print(f"VALID: {check.signer_subject}" + (" (sertifikat DEMO)" if check.demo else ""))
        return 0
    print(f"TIDAK VALID: {check.error}", file=sys.stderr)
    return EXIT_INVALID


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sop", description="Dokumen SOP asesmen jarak jauh untuk BNSP")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="buat PDF (dan DOCX) dokumen permohonan")
    build.add_argument("--out", required=True, help="berkas PDF keluaran")
    build.add_argument("--docx", help="berkas DOCX keluaran (dapat disunting)")
    build.add_argument("--inputs", help="berkas JSON masukan; tanpa ini, penyedia fakta dari pengaturan dipakai")
    build.add_argument("--no-sign", action="store_true", help="jangan tandatangani PDF")
    build.add_argument("--demo-cert-dir", help="direktori sertifikat DEMO bila RTUK_SOP_SIGNING_P12 kosong")
    build.set_defaults(func=_cmd_build)

    preview = sub.add_parser("preview", help="buat pratinjau HTML (tanpa PDF)")
    preview.add_argument("--out", required=True, help="berkas HTML keluaran")
    preview.add_argument("--inputs", help="berkas JSON masukan")
    preview.set_defaults(func=_cmd_preview)

    example = sub.add_parser("example-inputs", help="cetak contoh masukan JSON yang lengkap")
    example.set_defaults(func=_cmd_example)

    schema = sub.add_parser("schema", help="cetak JSON Schema masukan")
    schema.set_defaults(func=_cmd_schema)

    missing = sub.add_parser("missing", help="daftar data yang belum diisi")
    missing.add_argument("--inputs", help="berkas JSON masukan")
    missing.set_defaults(func=_cmd_missing)

    verify = sub.add_parser("verify", help="periksa tanda tangan elektronik PDF")
    verify.add_argument("pdf")
    verify.set_defaults(func=_cmd_verify)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
