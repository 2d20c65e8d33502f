"""``python -m remote_tuk import-questions FILE`` and ``export-questions CODE [--format csv] [--version N]``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from remote_tuk.extensions import db


def register(app: Flask) -> None:
    @app.cli.command("import-questions")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_questions(path: Path) -> None:
        """Import a question bank (JSON or CSV) as the scheme's next bank version (all or nothing)."""
        from remote_tuk.datafile import error_lines
        from remote_tuk.errors import DomainError
        from remote_tuk.instruments.services import import_bank

        try:
            scheme, version = import_bank(db.session, path.read_bytes(), path.name, actor=None)
        except DomainError as err:
            raise click.ClickException("\n".join([err.message, *error_lines(err.details)])) from err
        if version is None:
            click.echo(f"Bank soal {scheme.code} tidak berubah; tidak ada versi baru.")
        else:
            click.echo(
                f"Bank soal {scheme.code} versi {version.number} diterbitkan ({version.question_count} soal, "
                f"SHA-256 {version.content_sha256})."
            )

    @app.cli.command("export-questions")
    @click.argument("code")
    @click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
    @click.option("--version", "version", type=int, default=None, help="A published version (default: the newest).")
    def export_questions(code: str, fmt: str, version: int | None) -> None:
        """Print a scheme's question bank (answer keys included) in the import format."""
        from remote_tuk.errors import DomainError
        from remote_tuk.instruments.services import export, scheme_by_code

        scheme = scheme_by_code(db.session, code)
        if scheme is None:
            raise click.ClickException(f"Skema {code} tidak ditemukan.")
        try:
            click.echo(export(db.session, scheme, fmt, version), nl=False)
        except DomainError as err:
            raise click.ClickException(err.message) from err
