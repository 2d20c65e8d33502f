"""Streaming AEAD: round trips and precise failures for truncation, reordering, replay, swaps and header edits."""

from __future__ import annotations

import io
import os

import pytest

from evidence_store.crypto import build_header, encrypt_stream, unwrap_with_kek, wrap_with_kek
from evidence_store.errors import KeyUnavailable
from evidence_store.verifier import DecryptionError, decrypt_stream, read_object_header, salted_commitment

CS = 4096
SEG = CS + 16


def encrypt(data: bytes, key: bytes | None = None, object_id: str = "o1"):
    key = key or os.urandom(32)
    header, prefix = build_header(object_id, "S", "video", "dk-" + object_id, CS)
    out = io.BytesIO()
    res = encrypt_stream(io.BytesIO(data), out, key, b"s" * 32, header, prefix, CS)
    return out.getvalue(), key, len(header), res


def decrypt(blob: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), key, out)
    return out.getvalue()


@pytest.mark.parametrize("n", [0, 1, CS - 1, CS, CS + 1, 5 * CS, (1 << 20) + 7])
def test_round_trip_and_commitment(n):
    data = os.urandom(n)
    blob, key, _, res = encrypt(data)
    assert decrypt(blob, key) == data
    assert res.plaintext_size == n and res.size == len(blob)
    assert res.commitment == salted_commitment(b"s" * 32, [data])
    assert data[:64] not in blob or n < 16


def chunks(blob: bytes, hlen: int) -> list[bytes]:
    body = blob[hlen:]
    return [body[i : i + SEG] for i in range(0, len(body), SEG)]


def test_truncation_at_chunk_boundary_is_detected():
    blob, key, hlen, _ = encrypt(os.urandom(4 * CS + 100))
    cut = blob[: hlen + 3 * SEG]
    with pytest.raises(DecryptionError) as err:
        decrypt(cut, key)
    assert err.value.code == "object_truncated"


def test_reordered_chunks_are_detected():
    blob, key, hlen, _ = encrypt(os.urandom(4 * CS + 100))
    c = chunks(blob, hlen)
    swapped = blob[:hlen] + c[0] + c[2] + c[1] + c[3] + c[4]
    with pytest.raises(DecryptionError) as err:
        decrypt(swapped, key)
    assert err.value.code == "object_chunk_reordered"
    assert "position 1" in err.value.message and "position 2" in err.value.message


def test_replayed_old_chunk_is_detected():
    blob, key, hlen, _ = encrypt(os.urandom(4 * CS + 100))
    c = chunks(blob, hlen)
    replay = blob[:hlen] + c[0] + c[1] + c[1] + c[3] + c[4]
    with pytest.raises(DecryptionError) as err:
        decrypt(replay, key)
    assert err.value.code == "object_chunk_replayed"
    assert "chunk 2 is a replay of chunk 1" in err.value.message


def test_chunk_from_another_object_and_flipped_bit_are_detected():
    data = os.urandom(3 * CS)
    blob1, key1, hlen, _ = encrypt(data, object_id="o1")
    blob2, _, _, _ = encrypt(data, object_id="o1")
    c1, c2 = chunks(blob1, hlen), chunks(blob2, hlen)
    mixed = blob1[:hlen] + c1[0] + c2[1] + c1[2]
    with pytest.raises(DecryptionError) as err:
        decrypt(mixed, key1)
    assert err.value.code == "object_chunk_altered"
    flipped = bytearray(blob1)
    flipped[hlen + 10] ^= 1
    with pytest.raises(DecryptionError) as err:
        decrypt(bytes(flipped), key1)
    assert err.value.code == "object_chunk_altered"


def test_header_is_bound_as_associated_data():
    blob, key, _, _ = encrypt(os.urandom(CS))
    hdr = read_object_header(io.BytesIO(blob))
    assert hdr.fields["session_id"] == "S" and hdr.fields["type"] == "video"
    edited = blob.replace(b'"type":"video"', b'"type":"audio"', 1)
    assert edited != blob
    with pytest.raises(DecryptionError):
        decrypt(edited, key)
    with pytest.raises(DecryptionError) as err:
        decrypt_stream(io.BytesIO(blob), key, io.BytesIO(), expect={"session_id": "OTHER"})
    assert err.value.code == "object_header_mismatch"


def test_wrong_key_fails():
    blob, _, _, _ = encrypt(os.urandom(100))
    with pytest.raises(DecryptionError) as err:
        decrypt(blob, os.urandom(32))
    assert err.value.code in ("object_chunk_altered", "object_truncated")


def test_kek_wrap_binds_ids():
    kek, dk, salt = os.urandom(32), os.urandom(32), os.urandom(32)
    w = wrap_with_kek(kek, "kek-1", "dk-a", dk, salt)
    assert unwrap_with_kek(kek, "kek-1", "dk-a", w) == (dk, salt)
    for args in [("kek-2", "dk-a"), ("kek-1", "dk-b")]:
        with pytest.raises(KeyUnavailable):
            unwrap_with_kek(kek, *args, w)
    with pytest.raises(KeyUnavailable):
        unwrap_with_kek(os.urandom(32), "kek-1", "dk-a", w)


def test_key_commitment_binds_the_key():
    from evidence_store.verifier import commitment_matches, key_commitment

    data = os.urandom(3 * CS)
    key = os.urandom(32)
    header, prefix = build_header("o1", "S", "video", "dk-o1", CS)
    res = encrypt_stream(io.BytesIO(data), io.BytesIO(), key, b"s" * 32, header, prefix, CS, commit_plaintext=False)
    assert res.commitment == key_commitment(b"s" * 32, key)
    plain = salted_commitment(b"s" * 32, [data])
    assert commitment_matches(res.commitment, b"s" * 32, key, plain)
    assert not commitment_matches(res.commitment, b"s" * 32, os.urandom(32), plain)
    assert not commitment_matches(res.commitment, b"t" * 32, key, plain)
    assert commitment_matches(plain, b"s" * 32, key, plain)
    assert not commitment_matches(plain, b"s" * 32, key, salted_commitment(b"s" * 32, [data + b"x"]))
