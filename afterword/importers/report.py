"""The fidelity report: what an import kept, what it skipped and why, and what it dropped.

People move archives once; they need to see, record by record, what did not make it, and,
field by field, what the source knew that afterword does not keep.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 50  # per-record lines printed in text form; --json has them all


@dataclass
class ImportReport:
    source: str
    path: str
    dry_run: bool = False
    read: int = 0
    imported: Counter[str] = field(default_factory=Counter)
    already_present: int = 0
    pages: set[str] = field(default_factory=set)
    pages_bumped: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    relinked: list[tuple[str, str]] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def imported_total(self) -> int:
        return sum(self.imported.values())

    def skip(self, where: str, reason: str) -> None:
        self.skipped.append((where, reason))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "dry_run": self.dry_run,
            "read": self.read,
            "imported": self.imported_total,
            "imported_by_status": dict(sorted(self.imported.items())),
            "already_present": self.already_present,
            "pages": len(self.pages),
            "pages_marked_for_build": self.pages_bumped,
            "skipped": [{"record": w, "reason": r} for w, r in self.skipped],
            "threading_repairs": [{"record": w, "reason": r} for w, r in self.relinked],
            "notes": dict(sorted(self.notes.items())),
            "dropped_fields": dict(sorted(self.dropped.items())),
        }

    def to_lines(self) -> list[str]:
        """The human summary printed after an import."""
        verb = "would import" if self.dry_run else "imported"
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.imported.items())) or "none"
        lines = [
            f"{self.source}: read {self.read} records, {verb} {self.imported_total} comments "
            f"({statuses}) on {len(self.pages)} pages",
            f"already present (imported before): {self.already_present}",
            f"pages marked for the next build: {self.pages_bumped}",
        ]
        lines += _listed("skipped", self.skipped)
        lines += _listed("threading repaired (imported as top-level)", self.relinked)
        lines += [f"note: {text} ({n})" for text, n in sorted(self.notes.items())]
        if self.dropped:
            lines.append("not kept (afterword has no place for these):")
            lines += [f"  {name}: {n} comments" for name, n in sorted(self.dropped.items())]
        return lines


def _listed(title: str, entries: list[tuple[str, str]]) -> list[str]:
    if not entries:
        return [f"{title}: 0"]
    by_reason = Counter(_reason_kind(reason) for _, reason in entries)
    summary = ", ".join(f"{n} {kind}" for kind, n in by_reason.most_common())
    lines = [f"{title}: {len(entries)} ({summary})"]
    lines += [f"  {where}: {reason}" for where, reason in entries[:MAX_LISTED]]
    if len(entries) > MAX_LISTED:
        lines.append(f"  … and {len(entries) - MAX_LISTED} more (use --json for all)")
    return lines


def _reason_kind(reason: str) -> str:
    """The reason's first words (before any detail), to group it in the summary line."""
    return reason.split(":", 1)[0].split(" (", 1)[0].split(" '", 1)[0]
