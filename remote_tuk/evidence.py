"""The app's evidence store (``evidence_store.EvidenceStore``), opened once per process on first use."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config import Settings
    from evidence_store.store import EvidenceStore


def lsp_log_origin() -> str | None:
    """``<domain>/evidence`` from the LSP profile, None while the LSP has set no domain. A database error is raised
    (the log then writes its first checkpoint later, never under a guessed name)."""
    from remote_tuk.extensions import db
    from remote_tuk.lsp.services import get_lsp

    with db.new_session() as session:
        lsp = get_lsp(session)
        return lsp.log_origin if lsp is not None else None


class Evidence:
    """Flask-style holder: ``init_app`` records the settings; ``store`` opens the store (recovery runs then)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: EvidenceStore | None = None
        self._lock = threading.Lock()
        #: called with the store right after it opens (e.g. the ops package times its appends)
        self.on_open: list[Callable[[EvidenceStore], None]] = []

    def init_app(self, app: Any, settings: Settings) -> None:
        self._settings = settings
        self._store = None
        self.on_open = []
        app.extensions["rtuk_evidence"] = self

    @property
    def store(self) -> EvidenceStore:
        with self._lock:
            if self._store is None:
                if self._settings is None:
                    raise RuntimeError("evidence store is not initialised")
                from evidence_store.store import EvidenceStore

                # a new log is named after the LSP's domain (asked until its first checkpoint; then it keeps it)
                self._store = EvidenceStore.from_settings(self._settings.evidence, data_dir=self._settings.evidence_dir,
                                                          origin=lsp_log_origin)
                self._store.start_background()
                for hook in self.on_open:
                    hook(self._store)
                atexit.register(self.close)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

