"""Decisions per second of ``parse_ticket`` + ``decide`` on one core, against a floor baseline.

Usage: ``python benchmarks/routing.py [--n 100000]``. Generates its own tickets (seeded): one set
whose texts have no digits or time words, one whose texts name an appointment time in one of the
contract's forms. The baseline is the least any scorer must do per row: copy the row dict and run
one regex search over the text. Targets: >= 50,000/s without time words, >= 5,000/s with.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving.decision import CATEGORIES, Prediction  # noqa: E402
from serving.rules.routing import decide  # noqa: E402
from serving.tickets import parse_ticket  # noqa: E402

PLAIN = [
    "I was charged twice for my last session and would like a refund please",
    "The video keeps freezing when I join from my laptop, audio is fine",
    "How do I change the email address on my account",
    "Can my provider adjust my medication, the side effects are getting worse",
    "I need a receipt for my HSA account for the sessions this year",
    "The app logs me out every time I switch screens on my phone",
    "Please update my mailing address, I moved across town",
    "I would like to talk about my treatment plan with my therapist",
    "Why is there a late fee on my statement, I cancelled in time",
    "Messages to my provider show as sent but she says she never got them",
    "I want to merge my two accounts, I made a duplicate by mistake",
    "Can I get a superbill for my insurance company",
]
TIMED = [
    "I need to cancel my appointment tomorrow at {h}pm, something came up at work",
    "Can we move my session on {wd} at {h} to later in the week",
    "My appointment is today at {h}:30 and I cannot make it",
    "Please reschedule my {h}pm on {mon} {d}, I will be travelling",
    "I have a session in {n} hours and my camera does not work, can I cancel",
    "Move my {h}pm to {h2}pm next {wd} please",
    "I want to cancel my appointment on {m}/{d}",
    "Something came up tonight, can I cancel my session",
]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
MONTHS = ["jan", "march", "june", "sept", "dec"]
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", None]


def make_rows(n: int, timed: bool, seed: int) -> list[dict]:
    """Generate batch-like rows (string fields, as read from CSV)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if timed:
            text = rng.choice(TIMED).format(
                h=rng.randint(1, 11), h2=rng.randint(1, 11), wd=rng.choice(WEEKDAYS),
                mon=rng.choice(MONTHS), d=rng.randint(1, 28), m=rng.randint(1, 12),
                n=rng.randint(1, 30),
            )  # fmt: skip
        else:
            text = rng.choice(PLAIN)
        row = {
            "ticket_id": str(i),
            "text": text,
            "created_at": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
        }
        zone = rng.choice(ZONES)
        if zone:
            row["timezone"] = zone
        rows.append(row)
    return rows


def predictions(rows: list[dict], seed: int) -> list[Prediction]:
    """One fixed prediction per row, so the model is not part of the measurement."""
    rng = random.Random(seed)
    out = []
    for _ in rows:
        category = rng.choice(CATEGORIES)
        probs = {c: (0.8 if c == category else 0.05) for c in CATEGORIES}
        out.append(Prediction(category, 0.8, probs, rng.random() < 0.1, "bench"))
    return out


def run_engine(rows: list[dict], preds: list[Prediction]) -> float:
    start = time.perf_counter()
    for row, pred in zip(rows, preds, strict=True):
        decide(parse_ticket(row), pred)
    return time.perf_counter() - start


_FLOOR = re.compile(r"\b(?:cancel|refund)\b")


def run_floor(rows: list[dict], preds: list[Prediction]) -> float:
    start = time.perf_counter()
    for row, _pred in zip(rows, preds, strict=True):
        copy = dict(row)
        _FLOOR.search(copy["text"])
    return time.perf_counter() - start


def main() -> int:
    """Print the table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="tickets per set")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    targets = {"no time words": 50_000, "with time words": 5_000}
    print(f"{'set':<18}{'method':<28}{'tickets':>9}{'seconds':>9}{'per s':>11}{'target':>9}")
    ok = True
    for seed, (name, timed) in enumerate((("no time words", False), ("with time words", True))):
        rows = make_rows(args.n, timed, seed)
        preds = predictions(rows, seed)
        run_engine(rows[:2000], preds[:2000])  # warm caches (zone lookups, regex compile)
        floor = run_floor(rows, preds)
        engine = run_engine(rows, preds)
        rate = args.n / engine
        ok &= rate >= targets[name]
        print(f"{name:<18}{'floor: dict copy + 1 regex':<28}{args.n:>9}{floor:>9.2f}"
              f"{args.n / floor:>11,.0f}{'':>9}")
        print(f"{name:<18}{'parse_ticket + decide':<28}{args.n:>9}{engine:>9.2f}"
              f"{rate:>11,.0f}{targets[name]:>9,}")
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
