"""Indonesian first, English second: locale selection and compiling the message catalogues."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request

from remote_tuk.extensions import babel

LOCALES = ("id", "en")
TRANSLATIONS = Path(__file__).parent / "translations"


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every messages.po whose .mo is missing or older (so any way of starting the app has them)."""
    written = []
    for po in directory.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        # a name of this process and thread: app nodes started together from one checkout compile at once
        tmp = mo.with_suffix(f".mo.{os.getpid()}.{threading.get_ident()}.tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo)
        written.append(mo)
    return written


def select_locale() -> str:
    lang = request.cookies.get("lang")
    if lang in LOCALES:
        return lang
    from flask import current_app

    return current_app.config["RTUK"].default_locale


def init_i18n(app: Flask) -> None:
    compile_catalogues()
    app.config["BABEL_DEFAULT_LOCALE"] = "id"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel.init_app(app, locale_selector=select_locale)
