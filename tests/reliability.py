"""The reliability ledger: tests that try hostile payloads, faults, bad inputs and secret leaks record what they
tried and how it went; the run prints the table and, for a full run, writes it to tests/RELIABILITY.md.

    def test_something(reliability):
        reliability.add("Faults", "corrupt database", tried=1, failed=0)

`failed` counts the tries that went wrong (a payload that ran, a fault that lost state, a leak); the tests assert
it is zero, so a failing row also fails its test. The ledger only reports what the tests measured.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SECTIONS = {
    "Hostile payloads": ("surface", "payloads rendered", "ran, fetched or navigated"),
    "Faults": ("fault", "tried", "lost control or state"),
    "Bad inputs": ("input", "tried", "raw traceback or unclear error"),
    "Secrets": ("where the key could appear", "places checked", "leaks found"),
}
REPORT = Path(__file__).with_name("RELIABILITY.md")


@dataclass
class Ledger:
    rows: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, section: str, name: str, *, tried: int, failed: int = 0) -> None:
        """Count `tried` attempts of one kind, `failed` of which went wrong."""
        if section not in SECTIONS:
            raise ValueError(f"unknown ledger section {section!r}; one of {', '.join(SECTIONS)}")
        row = self.rows[section].setdefault(name, [0, 0])
        row[0] += tried
        row[1] += failed

    def markdown(self) -> str:
        out = ["# Reliability", "",
               "Written by the test suite (`tests/reliability.py`) at the end of a full run: what the tests tried "
               "and how it went. Every row is asserted by its test, so a non-zero last column fails CI.", ""]
        for section, (what, tried, failed) in SECTIONS.items():
            rows = self.rows.get(section)
            if not rows:
                continue
            total = [sum(r[0] for r in rows.values()), sum(r[1] for r in rows.values())]
            out += [f"## {section}", "", f"| {what} | {tried} | {failed} |", "|---|---:|---:|"]
            out += [f"| {name} | {t} | {f} |" for name, (t, f) in sorted(rows.items())]
            out += [f"| **all** | **{total[0]}** | **{total[1]}** |", ""]
        return "\n".join(out)


LEDGER = Ledger()
