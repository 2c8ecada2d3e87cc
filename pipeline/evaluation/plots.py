"""Figures of an evaluation report: confusion matrix and reliability diagram (matplotlib)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files, never a window: training runs headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion(report: dict[str, Any], title: str = "Confusion matrix") -> plt.Figure:
    """Heat map of the confusion matrix, rows true and columns predicted, with counts."""
    matrix = np.asarray(report["confusion_matrix"])
    labels = report["labels"]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i, j in np.ndindex(matrix.shape):
        ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                color="white" if matrix[i, j] > matrix.max() / 2 else "black", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_reliability(report: dict[str, Any], title: str = "Reliability diagram") -> plt.Figure:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration and the ECE."""
    rows = report["reliability"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker="o", label="model")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title} (ECE {report['ece']:.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
