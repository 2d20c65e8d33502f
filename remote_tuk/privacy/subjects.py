"""Whose personal data each sealed column holds, and the flush hook that seals new values for that candidate.

Every model with a :class:`~remote_tuk.privacy.sealing.SealedText` column is listed in :data:`SUBJECTS` with the way
to find its candidate (the user whose data key seals it). Before each flush, changed values of sealed columns are
wrapped in :class:`~remote_tuk.privacy.sealing.Sealed` with that candidate's id; a new user's own NIK (whose id the
INSERT has yet to give) is written right after the INSERT. A sealed column of a model missing here is refused.
Lookup hashes (``users.nik_hash``) follow their column at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.consent.models import ConsentForm, ConsentWithdrawal
from remote_tuk.live.models import ChatMessage, KukMark, UnitDecision
from remote_tuk.privacy.keys import SubjectKeys
from remote_tuk.privacy.models import PrivacyRequest
from remote_tuk.privacy.sealing import Sealed, SealedText, bind_keys, lookup_hash
from remote_tuk.questioning.models import EssayScore, OralQuestion, WrittenAnswer, WrittenTest
from remote_tuk.tuk.models import Consent

Resolver = Callable[[Session, Any], int | None]


def _session_candidate(db: Session, obj: Any) -> int:
    session = db.get(AssessmentSession, obj.session_id)
    if session is None:
        raise LookupError(f"{type(obj).__name__}: session {obj.session_id} does not exist")
    return session.candidate_id


def _candidate(_db: Session, obj: Any) -> int:
    return int(obj.candidate_id)


def _test_candidate(db: Session, obj: Any) -> int:
    test = db.get(WrittenTest, obj.test_id)
    if test is None:
        raise LookupError(f"{type(obj).__name__}: written test {obj.test_id} does not exist")
    return _session_candidate(db, test)


def _own(_db: Session, obj: Any) -> int | None:
    return obj.id  # None while the user is being inserted


#: model -> how to find the candidate whose key seals its sealed columns
SUBJECTS: dict[type, Resolver] = {
    ChatMessage: _session_candidate,  # the whole chat of a session is the candidate's (the assessor's lines too)
    KukMark: _session_candidate,
    UnitDecision: _session_candidate,
    Consent: _candidate,
    ConsentForm: _candidate,
    ConsentWithdrawal: _candidate,
    PrivacyRequest: _candidate,
    User: _own,
    OralQuestion: _session_candidate,
    WrittenAnswer: _test_candidate,
    EssayScore: _test_candidate,
}
#: (model, sealed attribute) -> (lookup hash attribute, purpose)
LOOKUPS: dict[tuple[type, str], tuple[str, str]] = {(User, "nik"): ("nik_hash", "nik")}

_SEALED: dict[type, tuple[str, ...]] = {}
_PENDING = "rtuk_unsealed"


def sealed_attributes(cls: type) -> tuple[str, ...]:
    if cls not in _SEALED:
        mapper = inspect(cls, raiseerr=False)
        names: tuple[str, ...] = ()
        if mapper is not None:
            names = tuple(p.key for p in mapper.column_attrs if isinstance(p.columns[0].type, SealedText))
        if names and cls not in SUBJECTS:
            raise TypeError(f"{cls.__name__} has sealed columns but no entry in privacy.subjects.SUBJECTS")
        _SEALED[cls] = names
    return _SEALED[cls]


def _before_flush(db: Session, _ctx: Any, _instances: Any) -> None:
    for obj in [*db.new, *db.dirty]:
        cls = type(obj)
        names = sealed_attributes(cls)
        if not names:
            continue
        state = inspect(obj)
        for name in names:
            if not state.attrs[name].history.has_changes():
                continue
            value = getattr(obj, name)
            lookup = LOOKUPS.get((cls, name))
            if lookup is not None and not isinstance(value, Sealed):
                setattr(obj, lookup[0], None if value is None else lookup_hash(db, lookup[1], str(value)))
            if value is None or value == "" or isinstance(value, Sealed):
                continue
            subject = SUBJECTS[cls](db, obj)
            setattr(obj, name, Sealed(value, subject))
            if subject is None:
                db.info.setdefault(_PENDING, []).append((obj, name))


def _after_flush(db: Session, _ctx: Any) -> None:
    for obj, name in db.info.pop(_PENDING, []):
        subject = SUBJECTS[type(obj)](db, obj)
        value = Sealed(str(getattr(obj, name)), subject)
        table = obj.__table__
        db.connection().execute(update(table).where(table.c.id == obj.id).values({name: value}))
        set_committed_value(obj, name, value)


def _after_rollback(db: Session) -> None:
    db.info.pop(_PENDING, None)


def install() -> None:
    """Seal at every flush of every ORM session (idempotent)."""
    for name, fn in (
        ("before_flush", _before_flush),
        ("after_flush", _after_flush),
        ("after_rollback", _after_rollback),
    ):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def init_app(app: Any, engine: Any, evidence: Any) -> SubjectKeys:
    """Seal at flush, and seal/open the app engine's sealed columns with keys from the app's evidence store."""
    install()
    keys = SubjectKeys(lambda: evidence.store)
    bind_keys(engine, keys)
    app.extensions["rtuk_privacy_keys"] = keys
    return keys
