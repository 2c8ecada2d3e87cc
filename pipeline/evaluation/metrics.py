"""Evaluation figures: per-category precision/recall/F1, macro-F1, accuracy, confusion matrix, ECE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from serving.decision import CATEGORIES


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: the confidence-vs-accuracy gap averaged over equal-width bins, weighted by size.

    Args:
        confidence: probability of the predicted label, one per example.
        correct: whether the predicted label was right.
        n_bins: number of equal-width bins on [0, 1].

    Returns:
        The ECE, 0 for a perfectly calibrated model.
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if confidence.size == 0:
        return 0.0
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.sum() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total / confidence.size)


def reliability_table(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Per-bin mean confidence, accuracy and count, for a reliability diagram."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    return [
        {
            "bin_low": b / n_bins,
            "confidence": float(confidence[bins == b].mean()),
            "accuracy": float(correct[bins == b].mean()),
            "count": int((bins == b).sum()),
        }
        for b in range(n_bins)
        if (bins == b).any()
    ]


def classification_report(y_true: Sequence[str], proba: np.ndarray) -> dict[str, Any]:
    """All the figures ``triage evaluate`` prints, from true labels and predicted probabilities.

    Args:
        y_true: true categories.
        proba: probabilities, columns in ``CATEGORIES`` order.

    Returns:
        ``per_category`` (precision, recall, f1, support), ``macro_f1``, ``accuracy``, ``ece``,
        ``confusion_matrix`` (rows true, columns predicted, in ``labels`` order) and ``n``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(CATEGORIES)[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    labels = list(CATEGORIES)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": int(len(y_true)),
        "labels": labels,
        "per_category": {
            c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "ece": expected_calibration_error(confidence, y_pred == y_true),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "reliability": reliability_table(confidence, y_pred == y_true),
    }


def format_report(report: dict[str, Any], title: str = "") -> str:
    """A plain-text table of a report, for the terminal."""
    lines = [title] if title else []
    lines.append(f"{'category':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for c, m in report["per_category"].items():
        lines.append(f"{c:<12}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10d}")
    lines.append(f"macro-F1 {report['macro_f1']:.3f}   accuracy {report['accuracy']:.3f}   ECE {report['ece']:.3f}   n {report['n']}")
    if "route_accuracy" in report:
        lines.append(f"route accuracy {report['route_accuracy']:.3f}")
    lines.append("confusion matrix (rows true, columns predicted): " + " ".join(report["labels"]))
    for c, row in zip(report["labels"], report["confusion_matrix"]):
        lines.append(f"{c:<12}" + "".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)


def evaluate_file(path, model_uri: str | None, settings) -> tuple[dict[str, Any], str]:
    """Evaluate a model on a labelled file, adding route accuracy when it has ``expected_route``.

    Args:
        path: labelled tickets (``text``, ``category``; optionally the timing fields and ``expected_route``).
        model_uri: model URI or folder; the champion when None.
        settings: where the registry is.

    Returns:
        The report and its text table.
    """
    from pipeline.data import load_labelled
    from serving.model.loader import load_model
    from serving.scoring import score_frame

    frame = load_labelled(path)
    classifier = load_model(model_uri, settings)
    report = classification_report(frame["category"].tolist(), classifier.predict_proba(frame["text"].tolist()))
    report["model_version"] = classifier.version
    if "expected_route" in frame.columns:
        decisions = score_frame(classifier, frame)
        report["route_accuracy"] = float((decisions["route"].to_numpy() == frame["expected_route"].to_numpy()).mean())
    return report, format_report(report, f"{path} (model version {classifier.version})")
