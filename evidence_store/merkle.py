"""RFC 9162 Merkle tree: incremental appends, roots at any size, inclusion and consistency proofs.

Only perfect (full) subtrees are stored: level ``h`` holds the hashes of the aligned ranges ``[i*2^h, (i+1)*2^h)``,
32 bytes each, in one bytearray per level. Any MTH(D[a:b]) a proof needs is composed from them in O(log^2 n).
Verification lives in :mod:`evidence_store.verifier` (stdlib + cryptography only).
"""

from __future__ import annotations

import hashlib

from .verifier import EMPTY_ROOT, leaf_hash, node_hash

__all__ = ["MerkleTree", "leaf_hash", "node_hash"]


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    def __init__(self) -> None:
        self.levels: list[bytearray] = [bytearray()]
        self.size = 0

    def append_leaf_hash(self, h: bytes) -> None:
        sha = hashlib.sha256
        self.levels[0] += h
        self.size += 1
        n, level = self.size, 0
        while n % 2 == 0:
            lv = self.levels[level]
            right = lv[-32:]
            left = lv[-64:-32]
            h = sha(b"\x01" + left + right).digest()
            level += 1
            if len(self.levels) == level:
                self.levels.append(bytearray())
            self.levels[level] += h
            n //= 2

    def append(self, entry: bytes) -> bytes:
        h = leaf_hash(entry)
        self.append_leaf_hash(h)
        return h

    def leaf(self, index: int) -> bytes:
        return bytes(self.levels[0][32 * index : 32 * index + 32])

    def _mth(self, a: int, b: int) -> bytes:
        n = b - a
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and a % n == 0:
            h = n.bit_length() - 1
            i = a >> h
            return bytes(self.levels[h][32 * i : 32 * i + 32])
        k = _largest_pow2_below(n)
        return node_hash(self._mth(a, a + k), self._mth(a + k, b))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError("size beyond the tree")
        return self._mth(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.3.1 PATH(m, D[n])."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError("index not in tree")
        out: list[bytes] = []
        a, b, m = 0, size, index
        while b - a > 1:
            k = _largest_pow2_below(b - a)
            if m < k:
                out.append(self._mth(a + k, b))
                b = a + k
            else:
                out.append(self._mth(a, a + k))
                a, m = a + k, m - k
        out.reverse()
        return out

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.4.1 PROOF(m, D[n])."""
        new = self.size if new is None else new
        if not 0 <= old <= new <= self.size:
            raise ValueError("sizes out of range")
        if old == 0 or old == new:
            return []
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, a: int, b: int, complete: bool) -> list[bytes]:
        n = b - a
        if m == n:
            return [] if complete else [self._mth(a, b)]
        k = _largest_pow2_below(n)
        if m <= k:
            return [*self._subproof(m, a, a + k, complete), self._mth(a + k, b)]
        return [*self._subproof(m - k, a + k, b, False), self._mth(a, a + k)]
