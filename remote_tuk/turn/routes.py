"""``python -m remote_tuk turn-credential``: a TURN credential for a server-side ICE agent (a media node behind NAT).

Pages get a fresh credential per load (``services.ice_servers_for``). The media engine reads a static list
(``RTUK_RTC_ICE_SERVERS``); when it must relay too, give it a credential minted here with an expiry the operator
renews (docs/DEPLOYMENT.md): coturn refuses it, like any other, once the expiry has passed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import Blueprint, current_app

from remote_tuk.turn.services import turn_server

bp = Blueprint("turn", __name__, cli_group=None)


@bp.cli.command("turn-credential")
@click.option("--user", required=True, help="opaque name of the node, e.g. media-1 (no ':')")
@click.option("--ttl-hours", type=click.IntRange(1, 24 * 90), default=24 * 7, show_default=True)
def turn_credential_command(user: str, ttl_hours: int) -> None:
    """Print RTUK_RTC_ICE_SERVERS JSON: the configured TURN URLs with a credential valid for --ttl-hours."""
    turn = current_app.config["RTUK"].turn
    if not turn.enabled or not turn.secret:
        raise click.ClickException("RTUK_TURN_URLS dan RTUK_TURN_SECRET belum diatur / are not set.")
    if ":" in user:
        raise click.ClickException("--user must not contain ':'")
    settings = turn.model_copy(update={"ttl_s": ttl_hours * 3600})
    server = turn_server(settings, user, datetime.now(UTC))
    click.echo(json.dumps([server]))
