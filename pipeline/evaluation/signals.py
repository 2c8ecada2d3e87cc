"""Learned signals against their text patterns: the figures behind ``PATTERN_KEPT``.

Usage: ``python -m pipeline.evaluation.signals [--seeds 42,1,2,3] [--routing-set PATH]``.

For each seed the sample is split by phrasing family, the category model and its signal head are
trained on the training families (one grid point, the usual winner), and each signal is scored four
ways: learned only, pattern only, learned OR pattern, learned AND pattern. Two sets are scored:

- held-out families: the split's test tickets of the signal's category (positives: its intents);
- the routing set: its tickets of the signal's category (positives: its rule), scored with every
  seed's model; for ``emergency`` only the tickets that the rule asks it about (``SCHED-LT24`` or
  ``SCHED-LT24-EMERGENCY``, without an ``emergency`` field, which wins over the text).

Counts are summed over seeds. The output names signals and counts only, never ticket text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from pipeline.signals import SIGNAL_SPECS, signal_truth
from serving.rules.signals import PATTERN_KEPT, PATTERNS, SIGNALS
from serving.rules.textprep import prepare_text

VARIANTS: tuple[str, ...] = ("learned", "pattern", "or", "and")
ONE_POINT = {"features": ["static+tfidf"], "C": [16.0]}


def combine(learned: np.ndarray, pattern: np.ndarray) -> dict[str, np.ndarray]:
    """The four ways of reading a signal, from the learned and the pattern decisions."""
    return {"learned": learned, "pattern": pattern, "or": learned | pattern, "and": learned & pattern}


def counts(fired: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(true positives, fired, positives)."""
    return np.array([int((fired & truth).sum()), int(fired.sum()), int(truth.sum())])


# The category a rule id belongs to, for routing sets without ``expected_category``.
_RULE_CATEGORY = {"TECH": "technical", "ACCOUNT": "account", "CLIN": "clinical", "SCHED": "scheduling", "BILL": "billing"}


def _routing_population(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Which routing-set tickets the signal is asked about, and which of them are its positives."""
    spec = SIGNAL_SPECS[name]
    rules = frame["expected_rule_id"]
    if name == "emergency":
        among = rules.isin(["SCHED-LT24", "SCHED-LT24-EMERGENCY"]).to_numpy()
        if "emergency" in frame.columns:
            among = among & frame["emergency"].isna().to_numpy()
    elif "expected_category" in frame.columns:
        among = (frame["expected_category"] == spec.category).to_numpy()
    else:
        among = (rules.str.split("-").str[0].map(_RULE_CATEGORY) == spec.category).to_numpy()
    return among, (rules == spec.rule_id).to_numpy()


def compare_signals(seeds: list[int], routing_path: Path | None) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Train per seed and count each signal's hits under each variant.

    Args:
        seeds: split seeds.
        routing_path: a routing set with ``expected_category`` and ``expected_rule_id``, or None.

    Returns:
        set ("held-out" / "routing") -> signal -> variant -> (true positives, fired, positives).
    """
    from pipeline.data import load_labelled, split_by_family
    from pipeline.embeddings import ensure_static_model
    from pipeline.evaluation.routing import read_routing_set
    from pipeline.train import train_classifier
    from serving.settings import Settings

    settings = Settings()
    frame = load_labelled(settings.data_path)
    routing = read_routing_set(routing_path) if routing_path else None
    static_path = str(ensure_static_model(settings))
    totals: dict[str, dict[str, dict[str, np.ndarray]]] = {}

    def add(part: str, name: str, learned: np.ndarray, pattern: np.ndarray, truth: np.ndarray) -> None:
        for variant, fired in combine(learned, pattern).items():
            row = totals.setdefault(part, {}).setdefault(name, {}).setdefault(variant, np.zeros(3, dtype=int))
            row += counts(fired, truth)

    for seed in seeds:
        split = split_by_family(frame, seed=seed)
        classifier = train_classifier(
            split, static_path, seed=settings.seed, precision_target=settings.precision_target, grid=ONE_POINT,
            signal_recall_target=settings.signal_recall_target, signal_precision_floor=settings.signal_precision_floor,
        ).classifier  # fmt: skip
        head = classifier.signal_head
        sets = [("held-out", split.test["text"].tolist(), split.test)]
        if routing is not None:
            sets.append(("routing", routing["text"].tolist(), routing))
        for part, texts, rows in sets:
            fired = classifier.predict_signals(texts) >= head.threshold_vector
            prepared = [prepare_text(t) for t in texts]
            for j, name in enumerate(head.names):
                pattern = np.array([PATTERNS[name](p) for p in prepared])
                if part == "held-out":
                    among = (rows["category"] == SIGNAL_SPECS[name].category).to_numpy()
                    truth = signal_truth(rows["intent"], (name,))[:, 0]
                else:
                    among, truth = _routing_population(rows, name)
                add(part, name, fired[:, j][among], pattern[among], truth[among])
    return totals


def format_comparison(totals: dict[str, dict[str, dict[str, np.ndarray]]]) -> str:
    """One row per signal and variant: precision, recall and F1 on each set; the variant in use is marked."""
    parts = list(totals)
    header = f"{'signal':<17} {'variant':<8} " + " ".join(f"{p + ' P/R/F1':>26}" for p in parts)
    lines = [header]
    for name in SIGNALS:
        chosen = PATTERN_KEPT.get(name, "learned")
        for variant in VARIANTS:
            cells = []
            for part in parts:
                row = totals[part].get(name, {}).get(variant)
                if row is None:
                    cells.append(f"{'n/a':>26}")
                    continue
                hits, fired, positives = row
                precision = hits / fired if fired else 0.0
                recall = hits / positives if positives else 0.0
                f1 = 2 * hits / (fired + positives) if fired + positives else 0.0
                cells.append(f"{precision:>8.3f} {recall:>6.3f} {f1:>6.3f} ({positives:>3})")
            mark = " <- in use" if variant == chosen else ""
            lines.append(f"{name:<17} {variant:<8} " + " ".join(cells) + mark)
    return "\n".join(lines)


app = typer.Typer(add_completion=False)


@app.command()
def main(
    seeds: Annotated[str, typer.Option(help="Comma-separated split seeds.")] = "42,1,2,3",
    routing_set: Annotated[Path | None, typer.Option(help="Routing set to score as well.")] = Path("data/routing/tune.jsonl"),
) -> None:
    """Print each signal's precision, recall and F1 learned, as a pattern, OR-ed and AND-ed."""
    path = routing_set if routing_set and routing_set.exists() else None
    typer.echo(format_comparison(compare_signals([int(s) for s in seeds.split(",")], path)))


if __name__ == "__main__":
    app()
