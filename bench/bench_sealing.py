"""Sealed personal-data columns (docs/PRIVACY.md): run ``.venv/bin/python bench/bench_sealing.py [--rows N]``.

Side by side in one run, on SQLite in a temporary directory with a real evidence store (its keystore holds the keys):
writing N chat lines through the ORM into a sealed column and into a plain Text column, and reading them back
(``select(...).scalars().all()``, as a chat history or a page of marks is read). Ratio = plain time / sealed time
(1.0 = sealing costs nothing). Also the time to open one value (a keystore lookup, an unwrap and AES-GCM).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Integer, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from config import load_settings
from evidence_store.store import EvidenceStore
from remote_tuk.privacy.keys import SubjectKeys
from remote_tuk.privacy.sealing import Sealed, SealedText, bind_keys

LINE = "Apakah suara saya terdengar dengan jelas, Bu? Saya sudah siap memulai demonstrasi."


class Base(DeclarativeBase):
    pass


class SealedRow(Base):
    __tablename__ = "sealed"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(SealedText("bench.text"))


class PlainRow(Base):
    __tablename__ = "plain"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env="testing", var_dir=Path(tmp) / "var")
        store = EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir)
        keys = SubjectKeys(lambda: store)
        engine = create_engine(f"sqlite:///{tmp}/bench.sqlite3")
        bind_keys(engine, keys)
        Base.metadata.create_all(engine)

        def write(cls, value) -> None:
            with Session(engine) as s:
                s.add_all(cls(candidate=i % 20, text=value(i)) for i in range(args.rows))
                s.commit()

        def read(cls) -> None:
            with Session(engine) as s:
                rows = s.scalars(select(cls.text)).all()
                assert len(rows) >= args.rows and rows[0] == LINE

        w_plain = [_timed(lambda: write(PlainRow, lambda i: LINE)) for _ in range(args.repeat)]
        w_sealed = [_timed(lambda: write(SealedRow, lambda i: Sealed(LINE, i % 20))) for _ in range(args.repeat)]
        r_plain = [_timed(lambda: read(PlainRow)) for _ in range(args.repeat)]
        r_sealed = [_timed(lambda: read(SealedRow)) for _ in range(args.repeat)]
        token = keys.seal(LINE, 1, "bench.text")
        one = statistics.median(_timed(lambda: keys.open(token, "bench.text")) for _ in range(2000))
        total_rows = args.rows * args.repeat
        wp, ws = statistics.median(w_plain), statistics.median(w_sealed)
        rp, rs = statistics.median(r_plain), statistics.median(r_sealed)
        print(f"write {args.rows} rows: plain {wp * 1000:.1f} ms, sealed {ws * 1000:.1f} ms, ratio {wp / ws:.2f}")
        print(f"read {total_rows} rows: plain {rp * 1000:.1f} ms, sealed {rs * 1000:.1f} ms, ratio {rp / rs:.2f}, "
              f"{(rs - rp) / total_rows * 1e6:.1f} µs more per row")
        print(f"open one value: {one * 1e6:.1f} µs (keystore lookup + unwrap + AES-GCM)")
        engine.dispose()
        store.close()


if __name__ == "__main__":
    main()
