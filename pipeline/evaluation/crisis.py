"""Score a labelled crisis file with the full detector (patterns OR the model's learned score), per kind.

Usage::

    python -m pipeline.evaluation.crisis [--data FILE] [--model URI] [--patterns-only] [--show-errors]

``--data`` is a JSON Lines file with ``text``, ``label`` (1 crisis, 0 not) and ``kind``
(``data/crisis/crisis_set.jsonl`` by default); ``--model`` a registry URI or a saved model folder
(the champion by default; patterns only when there is none or with ``--patterns-only``). It prints
recall for each crisis kind and the false-flag rate for each other kind, by the patterns, by the
learned score and by either (what routing uses), and exits 1 when recall falls below
``--min-recall``. ``--show-errors`` prints the misread texts: use it on invented sets only.

What the default file measures, honestly: ``crisis_set.jsonl`` is the set the patterns were tuned
on (its 1.0 recall is in-sample), and the learned score trained on all of it. Only a file that
neither saw, such as the sealed set scored once, measures either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from serving.rules.crisis import detect_crisis
from serving.settings import PROJ_ROOT, Settings

DATA_PATH = PROJ_ROOT / "data" / "crisis" / "crisis_set.jsonl"
TARGET_RECALL = 0.9

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


@dataclass(frozen=True, slots=True)
class CrisisScores:
    """Counts of the full detector (patterns OR learned) on a labelled set."""

    positives: int
    negatives: int
    true_positives: int
    false_positives: int
    missed: tuple[str, ...]
    false_alarms: tuple[str, ...]

    @property
    def recall(self) -> float:
        """Share of positives flagged."""
        return self.true_positives / self.positives if self.positives else 1.0

    @property
    def false_positive_rate(self) -> float:
        """Share of negatives flagged."""
        return self.false_positives / self.negatives if self.negatives else 0.0


def load_crisis_set(path: Path = DATA_PATH) -> list[dict]:
    """Read a labelled crisis file.

    Args:
        path: JSON Lines with ``text``, ``label`` (1 crisis, 0 not) and ``kind``.

    Returns:
        The examples.

    Raises:
        ValueError: a row has no text or a label other than 0 and 1 (named by line number).
    """
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [i for i, r in enumerate(rows, 1) if not str(r.get("text", "")).strip() or r.get("label") not in (0, 1)]
    if bad:
        raise ValueError(f"{path}: lines {bad[:10]} need a non-empty text and a label of 0 or 1")
    return rows


def detector_flags(texts: list[str], classifier: Any | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the patterns and the learned score flag, each on its own, and what routing flags.

    The learned column runs the cascade on every text (scoring skips the transformer where the
    patterns already fire, which changes no routing but would hide what the score does alone).

    Args:
        texts: the texts.
        classifier: a loaded ``TicketClassifier``, or None for patterns only.

    Returns:
        (patterns, learned, flagged) booleans per text; learned is all False without a learned
        detector; flagged is the model's crisis verdict (patterns that fire alone, confirmed patterns,
        the cascade: ``TicketClassifier.predict_crisis``), the patterns without a learned detector.
    """
    patterns = np.array([detect_crisis(t) for t in texts], dtype=bool)
    learned, flagged = np.zeros(len(texts), dtype=bool), patterns
    if classifier is not None and getattr(classifier, "crisis", None) is not None and texts:
        learned = classifier.crisis.flags(texts, classifier.features(texts), None, classifier.features)
        flagged = classifier.predict_crisis(texts)
    return patterns, learned, flagged


def score_crisis_set(rows: list[dict], classifier: Any | None = None) -> CrisisScores:
    """Run the full detector over labelled examples.

    Args:
        rows: examples from ``load_crisis_set``.
        classifier: a loaded model with a learned crisis score, or None for patterns only.

    Returns:
        The counts, with the misread texts.
    """
    texts = [r["text"] for r in rows]
    _, _, flagged = detector_flags(texts, classifier)
    labels = np.array([r["label"] for r in rows], dtype=bool)
    return CrisisScores(
        positives=int(labels.sum()),
        negatives=int((~labels).sum()),
        true_positives=int((flagged & labels).sum()),
        false_positives=int((flagged & ~labels).sum()),
        missed=tuple(t for t, f, y in zip(texts, flagged, labels) if y and not f),
        false_alarms=tuple(t for t, f, y in zip(texts, flagged, labels) if f and not y),
    )


def table_by_kind(rows: list[dict], patterns: np.ndarray, learned: np.ndarray, flagged: np.ndarray) -> list[dict[str, Any]]:
    """One row per kind: its label, count and share flagged by patterns, learned score and routing."""
    out = []
    kinds = sorted({(r["label"], str(r.get("kind", "-"))) for r in rows}, key=lambda k: (-k[0], k[1]))
    for label, kind in kinds:
        index = [i for i, r in enumerate(rows) if r["label"] == label and str(r.get("kind", "-")) == kind]
        out.append(
            {
                "kind": kind,
                "label": label,
                "n": len(index),
                "patterns": float(patterns[index].mean()),
                "learned": float(learned[index].mean()),
                "flagged": float(flagged[index].mean()),
            }
        )
    return out


def _load(model: str | None, patterns_only: bool) -> Any | None:
    if patterns_only:
        return None
    from serving.model.loader import load_model, resolve_version

    settings = Settings()
    if model is None and resolve_version(settings) is None:
        typer.echo(f"no champion in {settings.tracking_uri}: patterns only", err=True)
        return None
    return load_model(model, settings)


@app.command()
def report(
    data: Annotated[Path, typer.Option(help="labelled crisis file (JSON Lines: text, label, kind).")] = DATA_PATH,
    model: Annotated[str | None, typer.Option(help="model URI or saved folder; the champion by default.")] = None,
    patterns_only: Annotated[bool, typer.Option(help="score the patterns alone.")] = False,
    min_recall: Annotated[float, typer.Option(help="exit 1 below this overall recall.")] = TARGET_RECALL,
    show_errors: Annotated[bool, typer.Option(help="print missed and falsely flagged texts (invented sets only).")] = False,
) -> None:
    """Print recall and false-flag rate per kind for patterns, learned score and what routing flags."""
    rows = load_crisis_set(data)
    classifier = _load(model, patterns_only)
    texts = [r["text"] for r in rows]
    patterns, learned, flagged = detector_flags(texts, classifier)
    learned_name = "learned" if classifier is not None and classifier.crisis is not None else "learned (none)"
    typer.echo(f"{data.name}: {learned_name}; recall for crisis kinds, false-flag rate for the others")
    typer.echo(f"{'kind':<26} {'label':>5} {'n':>5} {'patterns':>9} {'learned':>8} {'flagged':>7}")
    for row in table_by_kind(rows, patterns, learned, flagged):
        typer.echo(
            f"{row['kind']:<26} {row['label']:>5} {row['n']:>5} {row['patterns']:>9.3f} "
            f"{row['learned']:>8.3f} {row['flagged']:>7.3f}"
        )
    labels = np.array([r["label"] for r in rows], dtype=bool)
    recall = float(flagged[labels].mean()) if labels.any() else 1.0
    false_flags = float(flagged[~labels].mean()) if (~labels).any() else 0.0
    typer.echo(f"{'all crisis':<26} {1:>5} {int(labels.sum()):>5} {patterns[labels].mean():>9.3f} "
               f"{learned[labels].mean():>8.3f} {recall:>7.3f}")  # fmt: skip
    typer.echo(f"{'all safe':<26} {0:>5} {int((~labels).sum()):>5} {patterns[~labels].mean():>9.3f} "
               f"{learned[~labels].mean():>8.3f} {false_flags:>7.3f}")  # fmt: skip
    if show_errors:
        for text, flag, label in zip(texts, flagged, labels):
            if flag != label:
                typer.echo(f"  {'missed' if label else 'false flag'}: {text}")
    met = recall >= min_recall
    typer.echo(f"recall {recall:.3f} (target >= {min_recall:.2f}) -> {'met' if met else 'NOT met'}")
    raise typer.Exit(0 if met else 1)


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` and return its exit code (for tests and ``python -m``)."""
    code = app(args=argv, standalone_mode=False)  # click returns the code of typer.Exit here
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
