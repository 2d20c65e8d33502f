"""Decrypted items written out for the auditor: each under its session, named by its place in the chain and its
type, with the extension its bytes call for (:mod:`filetypes`), plus an ``index.json`` that says which entry each
file is."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from .filetypes import JSON_SNIFF_LIMIT, SNIFF_BYTES, extension_for
from .objects import COMMITMENT_PREFIX

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def item_stem(entry: dict[str, Any]) -> str:
    """``<seq>-<type>``: sorts in the chain's order and says what the item is. Only safe file-name characters."""
    kind = _UNSAFE.sub("_", str(entry.get("type") or "item")).strip("._") or "item"
    return f"{entry['seq']:05d}-{kind[:80]}"


class PlaintextSink(io.RawIOBase):
    """Receives an item's plaintext as it is decrypted: hashes it for the salted commitment and, when extracting,
    writes it to a temporary file that :meth:`finish` names with the extension its first bytes call for."""

    def __init__(self, salt: bytes, directory: Path | None = None, stem: str = "item"):
        self.h = hashlib.sha256(salt)
        self.plain = hashlib.sha256()
        self.size = 0
        self.head = bytearray()
        self.small: bytearray | None = bytearray()
        self.fh: Any = None
        self.directory, self.stem = directory, stem
        self.tmp: Path | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self.tmp = directory / f".{stem}.part"
            self.fh = open(self.tmp, "wb")

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.h.update(b)
        self.plain.update(b)
        self.size += len(b)
        if len(self.head) < SNIFF_BYTES:
            self.head += bytes(b[: SNIFF_BYTES - len(self.head)])
        if self.small is not None:
            self.small += b
            if len(self.small) > JSON_SNIFF_LIMIT:
                self.small = None
        if self.fh is not None:
            self.fh.write(b)
        return len(b)

    def commitment(self) -> str:
        return COMMITMENT_PREFIX + self.h.hexdigest()

    def extension(self) -> str:
        return extension_for(bytes(self.head), bytes(self.small) if self.small is not None else None)

    def finish(self) -> Path | None:
        """Close the file and give it its name; returns it (None when not extracting)."""
        if self.fh is None or self.tmp is None or self.directory is None:
            return None
        self.fh.close()
        self.fh = None
        target = self.directory / (self.stem + self.extension())
        os.replace(self.tmp, target)
        return target

    def discard(self) -> None:
        """Remove what was written of an item that failed to decrypt or to match its commitment."""
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        if self.tmp is not None and self.tmp.exists():
            self.tmp.unlink()


def index_record(entry: dict[str, Any], path: Path, sink: PlaintextSink) -> dict[str, Any]:
    """One line of ``index.json``: which entry a file is, when, and the SHA-256 of its plaintext."""
    return {"file": path.name, "seq": entry["seq"], "log_index": entry["log_index"], "type": entry.get("type"),
            "metadata": entry.get("metadata"), "server_time": entry.get("server_time"),
            "client_time": entry.get("client_time"), "media_range": entry.get("media_range"),
            "plaintext_sha256": sink.plain.hexdigest(), "plaintext_size": sink.size}


def write_index(directory: Path, records: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.json"
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
