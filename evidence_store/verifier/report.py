"""What a verification found: the steps passed, notes, and every failure with its code."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import VerificationError


@dataclass
class Report:
    session_id: str | None = None
    entries: int = 0
    items: int = 0
    objects_checked: int = 0
    decrypted: int = 0
    shredded: list[str] = field(default_factory=list)
    #: the chains linked to the session that the bundle holds (appeals, assessment records), one line each
    linked: list[str] = field(default_factory=list)
    failures: list[VerificationError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    checkpoint_size: int | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, code: str, message: str) -> None:
        self.failures.append(VerificationError(code, message))

    def codes(self) -> set[str]:
        return {f.code for f in self.failures}

    def render(self) -> str:
        lines = [*self.steps]
        lines += [f"LINKED {x}" for x in self.linked]
        lines += [f"NOTE {n}" for n in self.notes]
        lines += [f"FAIL {f.code}: {f.message}" for f in self.failures]
        verdict = "VERIFIED" if self.ok else f"NOT VERIFIED ({len(self.failures)} failure(s))"
        lines.append(f"{verdict}: session {self.session_id}, {self.entries} entries, {self.items} items, "
                     f"{self.objects_checked} ciphertexts checked, {self.decrypted} decrypted, "
                     f"{len(self.shredded)} shredded, {len(self.linked)} linked chain(s)")
        return "\n".join(lines)
