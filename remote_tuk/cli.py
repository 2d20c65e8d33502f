"""Operator commands: ``python -m remote_tuk <command>`` (or ``flask --app wsgi <command>``)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import click
from flask import Flask, current_app

from remote_tuk.extensions import db, socketio


def register_cli(app: Flask) -> None:
    from remote_tuk.instruments import cli as instruments_cli
    from remote_tuk.invitations import cli as invitations_cli

    instruments_cli.register(app)
    invitations_cli.register(app)

    @app.cli.command("migrate")
    def migrate() -> None:
        """Upgrade the database to the newest schema (idempotent)."""
        from remote_tuk.migrate import upgrade

        upgrade(current_app.config["RTUK"].sqlalchemy_url)
        click.echo("Basis data mutakhir / database up to date.")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo LSP, scheme, one account per role and a schedule (idempotent)."""
        from remote_tuk.demo import seed

        settings = current_app.config["RTUK"]
        if settings.is_production:
            raise click.ClickException("Data demo tidak boleh dibuat di produksi.")
        creds = seed(db.session, settings.var_dir / "demo-credentials.json")
        click.echo("\nAkun demo / demo accounts:")
        for c in creds:
            click.echo(f"  {c['role']:<9} {c['username']:<12} {c['password']}")
        click.echo(
            "  (Admin dan asesor mendaftarkan TOTP saat pertama masuk / admin and assessor enrol TOTP at first login)"
        )

    @app.cli.command("import-standard")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_standard(path: Path) -> None:
        """Import a scheme from a JSON or CSV file (all or nothing)."""
        from remote_tuk.datafile import error_lines
        from remote_tuk.errors import DomainError
        from remote_tuk.lsp.services import import_scheme

        try:
            scheme = import_scheme(db.session, path.read_bytes(), path.name, actor_id=None)
        except DomainError as err:
            raise click.ClickException("\n".join([err.message, *error_lines(err.details)])) from err
        click.echo(f"Skema {scheme.code} diimpor ({len(scheme.units)} unit, {scheme.kuk_count} KUK).")

    @app.cli.command("export-standard")
    @click.argument("code")
    @click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
    def export_standard(code: str, fmt: str) -> None:
        """Print a scheme in the import format."""
        from sqlalchemy import select

        from remote_tuk.lsp import standards
        from remote_tuk.lsp.models import Scheme
        from remote_tuk.lsp.services import get_scheme

        scheme_id = db.session.scalar(select(Scheme.id).where(Scheme.code == code))
        if scheme_id is None:
            raise click.ClickException(f"Skema {code} tidak ditemukan.")
        scheme = get_scheme(db.session, scheme_id)
        click.echo(standards.to_json(scheme) if fmt == "json" else standards.to_csv(scheme), nl=False)

    @app.cli.command("create-user")
    @click.option("--username", required=True)
    @click.option("--name", "full_name", required=True)
    @click.option("--role", type=click.Choice(["lsp_admin", "asesor", "asesi", "auditor"]), required=True)
    @click.option("--met", "met_number")
    @click.option("--nik")
    @click.password_option()
    def create_user(
        username: str, full_name: str, role: str, met_number: str | None, nik: str | None, password: str
    ) -> None:
        """Create an account (e.g. the first LSP admin in production)."""
        from remote_tuk.accounts.models import Role
        from remote_tuk.accounts.services import create_user as create
        from remote_tuk.errors import DomainError

        try:
            create(
                db.session,
                username=username,
                full_name=full_name,
                role=Role(role),
                password=password,
                met_number=met_number,
                nik=nik,
                created_by=None,
            )
            db.session.commit()
        except DomainError as err:
            raise click.ClickException(
                f"{err.message} {json.dumps(err.details, ensure_ascii=False) if err.details else ''}"
            ) from err
        click.echo(f"Pengguna {username} dibuat.")

    @app.cli.command("serve")
    @click.option("--host", default=None)
    @click.option("--port", default=None, type=int)
    @click.option("--server", "server", type=click.Choice(["gunicorn", "werkzeug"]), default=None,
                  help="gunicorn (production-grade; make run) or Werkzeug's development server (RTUK_HTTP_SERVER)")
    def serve(host: str | None, port: int | None, server: str | None) -> None:
        """Serve HTTP and Socket.IO (threading mode) with gunicorn (one process, threads) or the development server."""
        from remote_tuk.serving import serve_gunicorn, serve_werkzeug

        settings = current_app.config["RTUK"]
        host, port = host or settings.host, port or settings.port
        server = server or settings.http_server
        if server == "gunicorn":
            click.echo(f"Remote TUK berjalan di http://{host}:{port}/ dengan gunicorn (1 proses, "
                       f"{settings.http_threads} thread)  (Ctrl+C untuk berhenti)")
            serve_gunicorn(settings, host, port, settings.http_threads)
            return
        click.echo(f"Remote TUK berjalan di http://{host}:{port}/ dengan server pengembangan Werkzeug (untuk "
                   "pengembangan dan uji; produksi: gunicorn, lihat README)  (Ctrl+C untuk berhenti)")
        if settings.is_production:
            raise click.ClickException("Produksi tidak dilayani server pengembangan: pakai --server gunicorn.")
        # Flask ignores app.run() inside its own CLI unless told this is the intended server.
        os.environ.pop("FLASK_RUN_FROM_CLI", None)
        serve_werkzeug(current_app._get_current_object(), socketio, host, port)  # type: ignore[attr-defined]

    @app.cli.command("media-node")
    @click.option("--name", required=True, help="this node's name, unique among the media nodes (e.g. media-1)")
    @click.option("--ops-port", type=click.IntRange(1, 65535), default=None,
                  help="serve /healthz, /readyz and /metrics (nothing else) on this port")
    @click.option("--ops-host", default="127.0.0.1", show_default=True)
    def media_node(name: str, ops_port: int | None, ops_host: str) -> None:
        """Run the media engine as a media node (docs/DEPLOYMENT.md, "Media nodes"): no HTTP; the app nodes with
        RTUK_MEDIA_NODES=redis place sessions on it and signal it through Redis."""
        import re

        from remote_tuk.medianode.node import run

        if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", name):
            raise click.ClickException("--name: 1-40 letters, digits, '.', '_' or '-'.")
        settings = current_app.config["RTUK"]
        if not settings.media_nodes_redis_url:
            raise click.ClickException("Simpul media memerlukan Redis: RTUK_MEDIA_NODES_URL atau "
                                       "RTUK_SOCKETIO_MESSAGE_QUEUE.")
        if not settings.socketio_message_queue:
            click.echo("Peringatan: tanpa RTUK_SOCKETIO_MESSAGE_QUEUE peristiwa media tidak sampai ke halaman.",
                       err=True)
        click.echo(f"Simpul media {name} berjalan (Ctrl+C untuk berhenti)")
        run(current_app._get_current_object(), name, ops_port, ops_host)  # type: ignore[attr-defined]

    @app.cli.command("close-chains")
    def close_chains() -> None:
        """Close the evidence chains of decided or cancelled sessions that were left open (a node stopped between the
        decision and the close); what is new of their recordings is joined first. Safe to run at any time."""
        from remote_tuk.extensions import db, evidence
        from remote_tuk.live.hooks import close_left_open

        found = close_left_open(db.session, evidence.store, current_app.config["RTUK"].rtc.chunk_ms)
        for public_id, outcome in found:
            click.echo(f"{public_id}: {outcome}")
        click.echo(f"{len(found)} rantai bukti terbuka pada sesi yang sudah diputus/dibatalkan.")
        if any(outcome.startswith("gagal") for _, outcome in found):
            raise click.ClickException("Sebagian rantai bukti belum dapat ditutup (lihat di atas).")

    @app.cli.command("gen-secret")
    def gen_secret() -> None:
        """Print a fresh secret key for RTUK_SECRET_KEY."""
        click.echo(secrets.token_urlsafe(48))
