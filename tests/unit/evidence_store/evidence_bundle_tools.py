"""Helpers to build and tamper with bundles in tests."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path


def read_bundle(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_bundle(path: Path, files: dict[str, bytes], fix_manifest: bool = True) -> Path:
    if fix_manifest:
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())
                             if n != "manifest.json"}
        files = dict(files, **{"manifest.json": json.dumps(manifest).encode()})
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
    return path


def tamper(src: Path, dst: Path, fn: Callable[[dict[str, bytes]], None], fix_manifest: bool = True) -> Path:
    files = read_bundle(src)
    fn(files)
    return write_bundle(dst, files, fix_manifest)


def lines(files: dict[str, bytes]) -> list[bytes]:
    return files["entries.jsonl"].rstrip(b"\n").split(b"\n")


def set_lines(files: dict[str, bytes], new: list[bytes]) -> None:
    files["entries.jsonl"] = b"".join(x + b"\n" for x in new)
