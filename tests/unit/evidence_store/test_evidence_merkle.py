"""RFC 9162 hashing and proofs: known answers, an independent oracle (pymerkle), and exhaustive small trees."""

from __future__ import annotations

import hashlib

import pytest
from pymerkle import InmemoryTree

from evidence_store.merkle import MerkleTree
from evidence_store.verifier import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)


def test_known_answers_rfc9162_hashing():
    # MTH({}) = SHA-256(), leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r)
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    # Certificate Transparency test vectors (RFC 6962 reference tree, leaves 0x00, 0x10, ...)
    leaves = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f"]]
    expected = {
        1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    }
    tree = MerkleTree()
    for i, d in enumerate(leaves, 1):
        tree.append(d)
        assert tree.root().hex() == expected[i]
        assert root_from_leaf_hashes(leaf_hash(x) for x in leaves[:i]).hex() == expected[i]
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 9, 31, 64, 100, 257])
def test_roots_match_pymerkle_oracle(n):
    data = [f"entry-{i}".encode() for i in range(n)]
    oracle = InmemoryTree(algorithm="sha256")
    for d in data:
        oracle.append_entry(d)
    tree = MerkleTree()
    for d in data:
        tree.append(d)
    for size in range(1, n + 1):
        assert tree.root(size) == oracle.get_root(size)


def test_inclusion_and_consistency_proofs_exhaustive_small_trees():
    tree = MerkleTree()
    for i in range(33):
        tree.append(f"e{i}".encode())
    for size in range(1, 34):
        root = tree.root(size)
        for idx in range(size):
            path = tree.inclusion_proof(idx, size)
            assert verify_inclusion(tree.leaf(idx), idx, size, path, root)
            assert not verify_inclusion(tree.leaf(idx), idx, size, path, hashlib.sha256(b"x").digest())
            if idx + 1 < size:
                assert not verify_inclusion(tree.leaf(idx), idx + 1, size, path, root)
            if path:
                bad = [*path[:-1], hashlib.sha256(path[-1]).digest()]
                assert not verify_inclusion(tree.leaf(idx), idx, size, bad, root)
        for old in range(0, size + 1):
            proof = tree.consistency_proof(old, size)
            old_root = tree.root(old)
            assert verify_consistency(old, size, old_root, root, proof)
            if 0 < old < size:
                assert not verify_consistency(old, size, hashlib.sha256(b"x").digest(), root, proof)
                assert not verify_consistency(old, size, old_root, hashlib.sha256(b"y").digest(), proof)


def test_inclusion_cache_agrees_with_plain_verification():
    from evidence_store.verifier import InclusionCache

    tree = MerkleTree()
    for i in range(37):
        tree.append(f"c{i}".encode())
    for size in range(1, 38):
        root = tree.root(size)
        cache = InclusionCache(size, root)
        for idx in range(size):
            path = tree.inclusion_proof(idx, size)
            for k in range(len(path)):  # any altered element is rejected even when the rest is cached
                bad = list(path)
                bad[k] = hashlib.sha256(bad[k]).digest()
                assert not cache.verify(tree.leaf(idx), idx, bad)
            assert cache.verify(tree.leaf(idx), idx, path)
            assert not cache.verify(tree.leaf(idx), idx, path[:-1]) or not path
            assert not cache.verify(hashlib.sha256(b"x").digest(), idx, path)
