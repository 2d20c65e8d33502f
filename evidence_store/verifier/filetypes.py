"""The file type of a decrypted evidence item, told from its first bytes, so that an extracted item carries the
extension a player or viewer expects (``.webm``, ``.ivf``, ``.jpg``, ``.json``, ``.pdf`` …). The bytes decide, not
the entry's claims: a mislabelled item still opens with the right program."""

from __future__ import annotations

import json

#: how many leading bytes :func:`extension_for` looks at (a DOCX names ``word/`` within them)
SNIFF_BYTES = 64 * 1024
#: plaintexts up to this size are parsed whole to tell JSON from other text
JSON_SNIFF_LIMIT = 1 << 20

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (  # (offset, signature, extension)
    (0, b"DKIF", ".ivf"),  # VP8 frames as the server records them
    (0, b"\xff\xd8\xff", ".jpg"),
    (0, b"\x89PNG\r\n\x1a\n", ".png"),
    (0, b"GIF87a", ".gif"),
    (0, b"GIF89a", ".gif"),
    (0, b"%PDF-", ".pdf"),
    (0, b"OggS", ".ogg"),
    (4, b"ftyp", ".mp4"),
)


def extension_for(head: bytes, whole: bytes | None = None) -> str:
    """The extension (with its dot) for a plaintext starting with ``head``; ``whole`` is the complete plaintext when
    it is small enough to parse (it tells JSON from other text)."""
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM names its doc type in the header, other Matroska does not
        return ".webm" if b"webm" in head[:64] else ".mkv"
    for offset, signature, ext in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return ext
    if head.startswith(b"RIFF") and head[8:12] in (b"WAVE", b"WEBP"):
        return ".wav" if head[8:12] == b"WAVE" else ".webp"
    if head.startswith(b"PK\x03\x04"):
        return ".docx" if b"word/" in head else ".zip"
    if b"\x00" in head:
        return ".bin"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the head
            return ".bin"
        text = head[: exc.start].decode("utf-8")
    if whole is not None and text.lstrip()[:1] in ("{", "["):
        try:
            json.loads(whole)
            return ".json"
        except ValueError:
            pass
    return ".txt"
