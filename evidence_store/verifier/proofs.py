"""RFC 9162 Merkle tree hashing (section 2.1), inclusion and consistency proof verification (2.1.3.2, 2.1.4.2), and
the C2SP ``tlog-proof`` text format that carries an inclusion proof with its checkpoint."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .encoding import b64decode_strict
from .errors import VerificationError

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes, computed bottom-up with a stack of perfect subtrees (equivalent to RFC 9162 2.1.1)."""
    stack: list[tuple[int, bytes]] = []  # (height, hash), strictly decreasing heights
    sha = hashlib.sha256
    n = 0
    for h in hashes:
        n += 1
        height = 0
        while stack and stack[-1][0] == height:
            h = sha(b"\x01" + stack.pop()[1] + h).digest()
            height += 1
        stack.append((height, h))
    if n == 0:
        return EMPTY_ROOT
    r = stack.pop()[1]
    while stack:
        r = sha(b"\x01" + stack.pop()[1] + r).digest()
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if size1 < 0 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


class InclusionCache:
    """Verifies many inclusion proofs against one tree, computing each interior node once.

    A node (level, position) that an earlier proof already carried to the signed root is known-good: a later proof
    that reaches the same node with the same hash is verified from there on. Any mismatch falls back to the full walk.
    """

    def __init__(self, size: int, root: bytes):
        self.size, self.root = size, root
        self.known: dict[tuple[int, int], bytes] = {}

    def verify(self, leaf: bytes, index: int, path: list[bytes]) -> bool:
        """Same result as :func:`verify_inclusion`; every path element is checked, hashing only where needed."""
        if index < 0 or index >= self.size:
            return False
        fn, sn, r, level = index, self.size - 1, leaf, 0
        trusted = False
        visited: list[tuple[tuple[int, int], bytes]] = []
        known = self.known
        for p in path:
            if sn == 0:
                return False
            if fn == sn and not fn & 1:
                while not fn & 1 and fn != 0:  # a right-edge node without a sibling moves up unchanged
                    fn >>= 1
                    sn >>= 1
                    level += 1
            left = bool(fn & 1)
            node_key, sib_key = (level, fn), (level, fn ^ 1)
            if not trusted:
                k = known.get(node_key)
                if k is not None:
                    if k != r:
                        return False
                    trusted = True
            if trusted:
                if known.get(sib_key) != p:
                    return False
            else:
                visited.append((node_key, r))
                visited.append((sib_key, p))
                r = node_hash(p, r) if left else node_hash(r, p)
            fn >>= 1
            sn >>= 1
            level += 1
        if sn != 0:
            return False
        if not trusted:
            if r != self.root:
                return False
            self._remember(visited)
        return True

    def _remember(self, visited: list[tuple[tuple[int, int], bytes]]) -> None:
        for key, value in visited:
            self.known[key] = value


@dataclass(frozen=True)
class TlogProof:
    index: int
    path: list[bytes]
    extra: bytes | None
    checkpoint: bytes


def parse_tlog_proof(data: bytes) -> TlogProof:
    sep = data.find(b"\n\n")
    if sep < 0:
        raise VerificationError("proof_malformed", "tlog-proof has no blank line before the checkpoint")
    head, checkpoint = data[:sep], data[sep + 2 :]
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise VerificationError("proof_malformed", "tlog-proof header is not ASCII") from None
    if not lines or lines[0] != TLOG_PROOF_HEADER:
        raise VerificationError("proof_malformed", f"tlog-proof does not start with {TLOG_PROOF_HEADER}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        try:
            extra = b64decode_strict(lines[pos][6:])
        except binascii.Error:
            raise VerificationError("proof_malformed", "tlog-proof extra is not base64") from None
        pos += 1
    if pos >= len(lines) or not re.fullmatch(r"index (0|[1-9][0-9]{0,19})", lines[pos]):
        raise VerificationError("proof_malformed", "tlog-proof has no valid 'index N' line")
    index = int(lines[pos][6:])
    path: list[bytes] = []
    for line in lines[pos + 1 :]:
        try:
            h = b64decode_strict(line)
        except binascii.Error:
            raise VerificationError("proof_malformed", "tlog-proof hash line is not base64") from None
        if len(h) != 32:
            raise VerificationError("proof_malformed", "tlog-proof hash is not 32 bytes")
        path.append(h)
    if len(path) > 64:
        raise VerificationError("proof_malformed", "tlog-proof has more than 64 hashes")
    return TlogProof(index, path, extra, checkpoint)


def format_tlog_proof(index: int, path: list[bytes], checkpoint: bytes, extra: bytes | None = None) -> bytes:
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + base64.b64encode(extra).decode())
    lines.append(f"index {index}")
    lines.extend(base64.b64encode(h).decode() for h in path)
    return ("\n".join(lines) + "\n\n").encode() + checkpoint
