from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.db import Base, utcnow


class LspType(enum.StrEnum):
    FIRST_PARTY = "pihak_kesatu"
    SECOND_PARTY = "pihak_kedua"
    THIRD_PARTY = "pihak_ketiga"


LSP_TYPE_LABELS = {
    LspType.FIRST_PARTY: "LSP Pihak Kesatu (P1)",
    LspType.SECOND_PARTY: "LSP Pihak Kedua (P2)",
    LspType.THIRD_PARTY: "LSP Pihak Ketiga (P3)",
}


#: Indonesia's three time zones: the zone an LSP shows every time in, and the abbreviation printed after each time
TIME_ZONES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
#: their offsets from UTC in hours (Indonesia keeps no daylight saving time)
UTC_OFFSETS = {"Asia/Jakarta": 7, "Asia/Makassar": 8, "Asia/Jayapura": 9}
TIME_ZONE_LABELS = {
    "Asia/Jakarta": "WIB — Waktu Indonesia Barat (UTC+7)",
    "Asia/Makassar": "WITA — Waktu Indonesia Tengah (UTC+8)",
    "Asia/Jayapura": "WIT — Waktu Indonesia Timur (UTC+9)",
}
DEFAULT_TIME_ZONE = "Asia/Jakarta"


class Lsp(Base):
    """The certification body running this installation (one row)."""

    __tablename__ = "lsp"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    licence_number: Mapped[str] = mapped_column(String(80), default="")
    lsp_type: Mapped[LspType] = mapped_column(
        Enum(LspType, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    address: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    director_name: Mapped[str] = mapped_column(String(160), default="")
    director_position: Mapped[str] = mapped_column(String(120), default="")
    #: The LSP's own internet domain (``lsp-tdn.example``): a new evidence log is named ``<domain>/evidence``.
    domain: Mapped[str] = mapped_column(String(253), default="")
    #: The zone every time is shown in (one of :data:`TIME_ZONES`).
    time_zone: Mapped[str] = mapped_column(String(32), default=DEFAULT_TIME_ZONE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def log_origin(self) -> str | None:
        """The name of the evidence log (and of its verifier key) this LSP's domain gives, None without a domain."""
        return f"{self.domain}/evidence" if self.domain else None


class Scheme(Base):
    """Skema sertifikasi: a set of competency units."""

    __tablename__ = "schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    units: Mapped[list[Unit]] = relationship(
        back_populates="scheme", order_by="Unit.position", cascade="all, delete-orphan"
    )

    @property
    def kuk_count(self) -> int:
        return sum(len(el.kuks) for unit in self.units for el in unit.elements)


class Unit(Base):
    """Unit kompetensi in the RMCS format."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("scheme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(255))
    descriptor: Mapped[str] = mapped_column(Text, default="")
    #: Batasan variabel (range statement).
    range_statement: Mapped[str] = mapped_column(Text, default="")
    #: Panduan penilaian (evidence guide).
    evidence_guide: Mapped[str] = mapped_column(Text, default="")
    scheme: Mapped[Scheme] = relationship(back_populates="units")
    elements: Mapped[list[Element]] = relationship(
        back_populates="unit", order_by="Element.position", cascade="all, delete-orphan"
    )


class Element(Base):
    __tablename__ = "elements"
    __table_args__ = (UniqueConstraint("unit_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    unit: Mapped[Unit] = relationship(back_populates="elements")
    kuks: Mapped[list[Kuk]] = relationship(
        back_populates="element", order_by="Kuk.position", cascade="all, delete-orphan"
    )


class Kuk(Base):
    """Kriteria unjuk kerja (performance criterion)."""

    __tablename__ = "kuks"
    __table_args__ = (UniqueConstraint("element_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("elements.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text)
    element: Mapped[Element] = relationship(back_populates="kuks")
