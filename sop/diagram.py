"""The architecture diagram, drawn with Graphviz (``dot``, offline) from the real configuration.

Only components that the inputs describe are drawn: no TURN server unless one is configured, no message queue for a
single node, object lock only on an S3 backend that has it.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from dataclasses import dataclass

from sop.inputs import DossierInputs


class DiagramError(RuntimeError):
    """Graphviz is missing or failed."""


@dataclass(frozen=True)
class Diagram:
    dot: str
    svg: bytes
    png: bytes


def _wrap(text: str, width: int = 36) -> str:
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bita"


def architecture_dot(inputs: DossierInputs) -> str:
    """The Graphviz source of the architecture diagram."""
    ev, dep, cap = inputs.evidence, inputs.deployment, inputs.capabilities
    tls = "HTTPS/WSS (TLS)" if dep.tls else "HTTP/WS"
    lines = [
        "digraph arsitektur {",
        '  graph [rankdir=TB, fontname="Noto Sans", fontsize=10, nodesep=0.35, ranksep=0.55, pad=0.1];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f2f5f9", color="#34495e",'
        ' fontname="Noto Sans", fontsize=9];',
        '  edge [fontname="Noto Sans", fontsize=8, color="#34495e"];',
        '  subgraph cluster_user { label="Pengguna (TUK jarak jauh dan LSP)"; style=dashed; color="#7f8c8d";',
        '    asesi [label="Peramban asesi\\nkamera, mikrofon"];',
        '    asesor [label="Peramban asesor"];',
        '    admin [label="Peramban admin LSP"];',
        "  }",
    ]
    server = dep.server_location or "lokasi server"
    nodes = "node" if dep.app_nodes == 1 else f"{dep.app_nodes} node"
    server_label = _q(_wrap("Server aplikasi: " + server, 60))
    lines.append(f'  subgraph cluster_server {{ label={server_label}; style=rounded; color="#2c3e50";')
    app_label = f"Aplikasi web ({nodes})\nautentikasi, peran,\npemeriksaan TUK, asesmen"
    lines.append(f"    app [label={_q(app_label)}];")
    lines.append('    media [label="Media langsung\\n(WebRTC)"];')
    evidence_label = (
        f"Pustaka bukti\nenkripsi {ev.encryption_algorithm or '-'}\n"
        f"log Merkle, checkpoint {ev.signature_algorithm or '-'}"
    )
    lines.append(f"    bukti [label={_q(evidence_label)}];")
    db_label = "Basis data\n" + (dep.database or "-")
    lines.append(f"    db [shape=cylinder, label={_q(db_label)}];")
    if dep.message_queue and dep.app_nodes > 1:
        lines.append('    mq [shape=cylinder, label="Antrean pesan\\n(Socket.IO)"];')
    lines.append("  }")
    if ev.backend == "s3":
        lock = ev.object_lock_mode if ev.object_lock_mode and ev.object_lock_mode != "NONE" else "tanpa object lock"
        store = f"Penyimpanan objek S3\nobject lock {lock}, retensi {ev.retention_days} hari"
    else:
        store = f"Penyimpanan berkas\nretensi {ev.retention_days} hari"
    store += "\n" + _wrap(ev.storage_location or "")
    lines.append(f'  store [shape=cylinder, fillcolor="#eaf4ea", label={_q(store)}];')
    if dep.backup_location:
        backup_label = "Cadangan\n" + _wrap(dep.backup_location)
        lines.append(f'  backup [shape=cylinder, fillcolor="#fdf3e7", label={_q(backup_label)}];')
    for i, ice in enumerate(dep.ice_servers):
        node = f"ice{i}"
        ice_label = "STUN/TURN\n" + ice
        lines.append(f"  {node} [label={_q(ice_label)}];")
        lines.append(f'  asesi -> {node} [style=dashed, arrowhead=none, label="relai media"];')
        lines.append(f"  {node} -> media [style=dashed, arrowhead=none];")
    lines += [
        f"  asesi -> app [label={_q(tls)}];",
        f"  asesor -> app [label={_q(tls)}];",
        f"  admin -> app [label={_q(tls)}];",
        '  asesi -> media [label="SRTP (DTLS)"];',
        '  media -> asesor [label="SRTP (DTLS)"];',
        "  app -> db;",
    ]
    if cap.session_recording:
        lines.append('  media -> bukti [label="rekaman"];')
    lines.append('  app -> bukti [label="catatan asesmen"];')
    chunk = _size(ev.chunk_size) if ev.chunk_size else "-"
    store_edge = f"ciphertext ({chunk}/potongan)"
    lines.append(f"  bukti -> store [label={_q(store_edge)}];")
    if dep.message_queue and dep.app_nodes > 1:
        lines.append("  app -> mq [dir=both];")
    if dep.backup_location:
        lines.append('  db -> backup [style=dashed, label="cadangan"];')
        lines.append("  store -> backup [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(source: str, fmt: str = "svg") -> bytes:
    """Lay out *source* with ``dot`` and return it as *fmt* (PNG at 150 dpi; SVG at its natural size)."""
    exe = shutil.which("dot")
    if exe is None:
        raise DiagramError("Graphviz 'dot' tidak ditemukan: pasang paket Debian 'graphviz'.")
    argv = [exe, f"-T{fmt}"] + (["-Gdpi=150"] if fmt == "png" else [])
    proc = subprocess.run(  # noqa: S603 - fixed executable, source passed on stdin
        argv, input=source.encode("utf-8"), capture_output=True, timeout=30, check=False
    )
    if proc.returncode != 0:
        raise DiagramError(f"Graphviz gagal: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout


def render_architecture(inputs: DossierInputs, *, png: bool = True) -> Diagram:
    source = architecture_dot(inputs)
    return Diagram(dot=source, svg=render_dot(source, "svg"), png=render_dot(source, "png") if png else b"")
