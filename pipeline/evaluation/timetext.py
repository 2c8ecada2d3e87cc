"""Print the share of tickets whose appointment hours and waits the rules read exactly.

Usage: ``python -m pipeline.evaluation.timetext [--path data/routing/tune.jsonl] [--show-errors]``.
Each row is a whole ticket with ``expected_hours`` and ``expected_wait_hours`` (null when the
ticket names no appointment time or no unanswered message). A ticket counts as exact when
``decide`` reports the same value to 0.01 h, or null where null is expected, so a time read from
a sentence that is not about an appointment counts as wrong. The tuning set was tuned on: its
figure is a regression floor, not an estimate for new wording. ``--show-errors`` prints the
ticket ids and values only, never the text.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from serving.decision import CATEGORIES, Prediction
from serving.rules.routing import decide
from serving.settings import PROJ_ROOT
from serving.tickets import parse_ticket

DATA_PATH = PROJ_ROOT / "data" / "routing" / "tune.jsonl"
# The category does not change how times are read; any prediction gives the same hours.
_PREDICTION = Prediction("scheduling", 1.0, {c: 0.2 for c in CATEGORIES}, False, "evaluation")


@dataclass(frozen=True, slots=True)
class Exactness:
    """How many tickets got one reading right, overall and where the text had to be read."""

    name: str
    total: int
    exact: int
    from_text: int  # tickets without the timestamp field, so the value comes from the text
    exact_from_text: int
    errors: tuple[tuple[str, float | None, float | None], ...]

    def line(self) -> str:
        """One printable line."""
        return (
            f"{self.name:<6} exact {self.exact}/{self.total} = {self.exact / self.total:.3f}; "
            f"read from text {self.exact_from_text}/{self.from_text} = "
            f"{self.exact_from_text / self.from_text:.3f}"
        )


def _same(read: float | None, expected: float | None) -> bool:
    if read is None or expected is None:
        return read is expected
    return abs(read - expected) < 0.0051


def score_times(rows: list[dict]) -> tuple[Exactness, Exactness]:
    """Read every ticket through ``decide`` and compare hours and waits with the labels.

    Args:
        rows: tickets with ``expected_hours`` and ``expected_wait_hours``.

    Returns:
        The exactness of appointment hours and of waits.
    """
    results = {}
    for name, field, expected_key, read_key in (
        ("hours", "appointment_at", "expected_hours", "hours_until_appointment"),
        ("waits", "awaiting_provider_since", "expected_wait_hours", "hours_awaiting_provider"),
    ):
        exact = from_text = exact_from_text = 0
        errors = []
        for row in rows:
            ticket = {k: v for k, v in row.items() if not k.startswith("expected_")}
            decision = decide(parse_ticket(ticket), _PREDICTION)
            read, expected = getattr(decision, read_key), row[expected_key]
            ok = _same(read, expected)
            exact += ok
            if row.get(field) is None:
                from_text += 1
                exact_from_text += ok
            if not ok:
                errors.append((str(row.get("ticket_id")), expected, read))
        results[name] = Exactness(name, len(rows), exact, from_text, exact_from_text, tuple(errors))
    return results["hours"], results["waits"]


def main(argv: list[str] | None = None) -> int:
    """Print both lines; exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DATA_PATH, help="JSON Lines tickets")
    parser.add_argument("--show-errors", action="store_true", help="print misread ticket ids")
    args = parser.parse_args(argv)
    lines = args.path.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    for result in score_times(rows):
        print(result.line())
        if args.show_errors:
            for ticket_id, expected, read in result.errors:
                print(f"  {ticket_id}: expected {expected}, read {read}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
