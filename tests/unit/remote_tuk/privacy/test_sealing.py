"""Sealed columns: a value is sealed with its candidate's key in the evidence keystore, bound to its column, reads as
"[dihapus]" once the key is shredded, as "[tidak terbaca]" when the key is missing without a logged shredding or the
value was altered, and a plain string never reaches a sealed column."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

from config import load_settings
from evidence_store.store import EvidenceStore
from remote_tuk.privacy.keys import KEY_SESSION, SubjectKeys
from remote_tuk.privacy.sealing import (
    ERASED,
    PREFIX,
    UNREADABLE,
    Sealed,
    SealedText,
    UnsealedValue,
    bind_keys,
    is_marker,
)


@pytest.fixture
def store(tmp_path):
    settings = load_settings(env="testing", var_dir=tmp_path / "var")
    store = EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir)
    yield store
    store.close()


@pytest.fixture
def keys(store):
    return SubjectKeys(lambda: store)


def test_seal_and_open_round_trip_with_one_key_per_candidate(keys, store):
    a = keys.seal("Apakah suara saya terdengar?", 17, "chat_messages.text")
    b = keys.seal("Apakah suara saya terdengar?", 17, "chat_messages.text")
    assert a.startswith(PREFIX) and a != b  # randomised: equal plaintexts do not show
    assert "terdengar" not in a
    assert keys.open(a, "chat_messages.text") == "Apakah suara saya terdengar?"
    other = keys.seal("x", 18, "chat_messages.text")
    assert other.split(":")[2] != a.split(":")[2]  # another candidate, another key
    # the key is a keystore row of the candidate, so shred_candidate finds it
    assert [sid for _k, sid, _o in store.keys.keys_of_candidate("17")] == [KEY_SESSION]


def test_a_value_moved_to_another_column_does_not_open(keys):
    sealed = keys.seal("Bukti belum memadai.", 5, "unit_decisions.reason")
    assert keys.open(sealed, "kuk_marks.note") is UNREADABLE


def test_shredding_the_candidate_erases_and_a_missing_key_is_not_called_erased(keys, store):
    sealed = keys.seal("3201010101010001", 9, "users.nik")
    store.shred_candidate("9", actor=("lsp_admin", "1"), reason="test")
    keys.forget(9)
    assert keys.open(sealed, "users.nik") is ERASED and is_marker(ERASED) and ERASED == "[dihapus]"
    # a key that was never shredded but is gone (a keystore from elsewhere) is not reported as erased
    stranger = sealed.replace(sealed.split(":")[2], "db-99-0000000000000000")
    assert keys.open(stranger, "users.nik") is UNREADABLE
    # new data of the candidate gets a new key
    again = keys.seal("baru", 9, "chat_messages.text")
    assert again.split(":")[2] != sealed.split(":")[2] and keys.open(again, "chat_messages.text") == "baru"


def test_tampered_or_malformed_values_are_unreadable(keys):
    sealed = keys.seal("catatan", 3, "kuk_marks.note")
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    assert keys.open(flipped, "kuk_marks.note") is UNREADABLE
    assert keys.open(PREFIX + "no-colon", "kuk_marks.note") is UNREADABLE


def test_lookup_hash_is_keyed_and_stable(keys, store, tmp_path):
    h = keys.lookup_hash("nik", "3201010101010001")
    assert h == keys.lookup_hash("nik", "3201010101010001") != keys.lookup_hash("nik", "3201010101010002")
    assert h != keys.lookup_hash("other", "3201010101010001")
    assert SubjectKeys(lambda: store).lookup_hash("nik", "3201010101010001") == h  # from the keystore, not memory
    settings = load_settings(env="testing", var_dir=tmp_path / "elsewhere")
    with EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir) as other:
        assert SubjectKeys(lambda: other).lookup_hash("nik", "3201010101010001") != h  # another installation


def test_the_column_type_refuses_plain_text_and_opens_sealed_values(keys, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 't.sqlite3'}")
    meta = MetaData()
    table = Table("t", meta, Column("id", Integer, primary_key=True), Column("v", SealedText("t.v")))
    meta.create_all(engine)
    with engine.begin() as conn, pytest.raises(Exception, match="no keys are bound"):
        conn.execute(insert(table).values(v=Sealed("rahasia", 4)))
    bind_keys(engine, keys)
    with engine.begin() as conn:
        with pytest.raises(Exception, match="must be sealed"):
            conn.execute(insert(table).values(v="rahasia"))
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, v=Sealed("rahasia", 4)))
        conn.execute(insert(table).values(id=2, v=""))
        conn.execute(insert(table).values(id=3, v=None))
    with engine.connect() as conn:
        raw = conn.execute(text("select v from t where id = 1")).scalar()
        assert raw.startswith(PREFIX) and "rahasia" not in raw
        assert conn.execute(select(table.c.v).order_by(table.c.id)).scalars().all() == ["rahasia", "", None]
    with engine.begin() as conn, pytest.raises(Exception, match="placeholder"):
        conn.execute(insert(table).values(v=ERASED))
    engine.dispose()
    assert issubclass(UnsealedValue, ValueError)
