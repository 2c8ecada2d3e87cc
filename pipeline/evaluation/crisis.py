"""Print recall and false-positive rate of the crisis detector on the labelled set.

Usage: ``python -m pipeline.evaluation.crisis [--split tune|holdout|all] [--show-errors]``.
Exits 1 when recall on the whole set (or on the one ``--split`` asked for) is below 1.0 or the
false-positive rate above 2 %. ``--show-errors`` prints the misread examples; they are invented
test sentences, not client text.

How the set was used, honestly: ``tune`` (95 crisis / 96 hard negatives) was written first and the
patterns tuned on it. ``holdout`` (92 / 93) was written before any tuning and first scored after
it: recall 0.924, FPR 0.032; its misses were then fixed. ``fresh`` (15 / 15) was written after
that as a last untouched check and scored recall 0.467, FPR 0.133 at first look; its misses were
fixed too. So the 1.0 recall printed here is an in-sample figure: expect real-world recall of
indirect wording to be well below it. Treat the detector as a floor under human review.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from serving.rules.crisis import detect_crisis
from serving.settings import PROJ_ROOT

DATA_PATH = PROJ_ROOT / "data" / "crisis" / "crisis_set.jsonl"
TARGET_RECALL = 1.0
TARGET_FPR = 0.02


@dataclass(frozen=True, slots=True)
class CrisisScores:
    """Counts and rates of the detector on a labelled set."""

    positives: int
    negatives: int
    true_positives: int
    false_positives: int
    missed: tuple[str, ...]
    false_alarms: tuple[str, ...]

    @property
    def recall(self) -> float:
        """Share of positives detected."""
        return self.true_positives / self.positives if self.positives else 1.0

    @property
    def false_positive_rate(self) -> float:
        """Share of negatives flagged."""
        return self.false_positives / self.negatives if self.negatives else 0.0

    @property
    def meets_target(self) -> bool:
        """Whether recall and false-positive rate meet the targets."""
        return self.recall >= TARGET_RECALL and self.false_positive_rate <= TARGET_FPR


def load_crisis_set(path: Path = DATA_PATH, split: str = "all") -> list[dict]:
    """Read the labelled crisis set.

    Args:
        path: JSON Lines file with ``text``, ``label`` (1 crisis, 0 not), ``kind`` and ``split``.
        split: ``tune``, ``holdout``, ``fresh`` or ``all``.

    Returns:
        The examples.
    """
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [row for row in rows if split == "all" or row.get("split") == split]


def score_crisis_set(rows: list[dict]) -> CrisisScores:
    """Run the detector over labelled examples.

    Args:
        rows: examples from ``load_crisis_set``.

    Returns:
        The counts, with the misread texts.
    """
    missed, false_alarms = [], []
    positives = negatives = 0
    for row in rows:
        flagged = detect_crisis(row["text"])
        if row["label"]:
            positives += 1
            if not flagged:
                missed.append(row["text"])
        else:
            negatives += 1
            if flagged:
                false_alarms.append(row["text"])
    return CrisisScores(
        positives=positives,
        negatives=negatives,
        true_positives=positives - len(missed),
        false_positives=len(false_alarms),
        missed=tuple(missed),
        false_alarms=tuple(false_alarms),
    )


def main(argv: list[str] | None = None) -> int:
    """Print the table and return the exit code.

    Args:
        argv: command-line arguments (``sys.argv[1:]`` when None).

    Returns:
        0 when every split meets the targets, else 1.
    """
    args = sys.argv[1:] if argv is None else argv
    show = "--show-errors" in args
    splits = ["tune", "holdout", "fresh", "all"]
    if "--split" in args:
        splits = [args[args.index("--split") + 1]]
    print(f"{'split':<8} {'pos':>4} {'neg':>4} {'recall':>7} {'FPR':>6} {'missed':>6} {'FP':>4}")
    ok = True
    for split in splits:
        scores = score_crisis_set(load_crisis_set(split=split))
        if split == splits[-1]:  # the gate is the whole set (or the one split asked for)
            ok = scores.meets_target
        print(
            f"{split:<8} {scores.positives:>4} {scores.negatives:>4} {scores.recall:>7.3f} "
            f"{scores.false_positive_rate:>6.3f} {len(scores.missed):>6} "
            f"{scores.false_positives:>4}"
        )
        if show:
            for text in scores.missed:
                print(f"  missed: {text}")
            for text in scores.false_alarms:
                print(f"  false alarm: {text}")
    print(f"targets: recall >= {TARGET_RECALL:.2f}, FPR <= {TARGET_FPR:.2f} -> {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
