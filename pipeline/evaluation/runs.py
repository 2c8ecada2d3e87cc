"""Figures for analysts: a training run's logged evaluation as tables, review-threshold curves, worst errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pandas as pd

from serving.decision import CATEGORIES
from serving.settings import Settings

# Artifacts a training run logs (pipeline/tracking.py); external is absent when the run had no external set.
EVALUATION_ARTIFACTS: dict[str, str] = {
    "holdout": "evaluation/holdout.json",
    "external": "evaluation/external.json",
}
SEARCH_ARTIFACT = "training/search.json"
# The same grid ``pipeline.train.choose_thresholds`` searches, so curve and tuned threshold agree.
THRESHOLD_GRID = np.round(np.arange(0.0, 1.0, 0.01), 2)


def champion_run_id(settings: Settings) -> tuple[str, str]:
    """The registered version behind the serving alias and the training run that produced it.

    Args:
        settings: tracking URI, model name and alias.

    Returns:
        (version, run id).
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    version = client.get_model_version_by_alias(settings.model_name, settings.model_alias)
    return str(version.version), str(version.run_id)


def load_run_artifacts(run_id: str, settings: Settings) -> dict[str, Any]:
    """Read a run's logged evaluation reports and review thresholds.

    Args:
        run_id: the training run.
        settings: where the tracking store is.

    Returns:
        ``holdout`` and, when logged, ``external`` (reports as ``classification_report`` makes them),
        and ``thresholds`` (category -> tuned review threshold).
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    logged = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    wanted = {name: path for name, path in EVALUATION_ARTIFACTS.items() if path in logged}
    wanted["search"] = SEARCH_ARTIFACT
    found: dict[str, Any] = {}
    with TemporaryDirectory() as tmp:
        for name, path in wanted.items():
            local = client.download_artifacts(run_id, path, dst_path=tmp)
            found[name] = json.loads(Path(local).read_text())
    found["thresholds"] = found.pop("search").get("thresholds", {})
    return found


def evaluation_frames(artifacts: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Turn a run's logged reports into tables, the evaluation sets side by side.

    Args:
        artifacts: as returned by ``load_run_artifacts``.

    Returns:
        ``summary`` (one row per set: n, accuracy, macro_f1, ece), ``per_category`` (rows category,
        columns (set, figure)), ``confusion_<set>`` (rows true, columns predicted), ``reliability_<set>``
        and ``thresholds`` (one row per category).
    """
    sets = [name for name in EVALUATION_ARTIFACTS if name in artifacts]
    frames: dict[str, pd.DataFrame] = {}
    frames["summary"] = pd.DataFrame(
        {name: {k: artifacts[name][k] for k in ("n", "accuracy", "macro_f1", "ece")} for name in sets}
    ).T.rename_axis("set")
    frames["per_category"] = pd.concat(
        {name: pd.DataFrame(artifacts[name]["per_category"]).T for name in sets}, axis=1
    ).rename_axis("category")
    for name in sets:
        labels = artifacts[name]["labels"]
        frames[f"confusion_{name}"] = pd.DataFrame(
            artifacts[name]["confusion_matrix"],
            index=pd.Index(labels, name="true"),
            columns=pd.Index(labels, name="predicted"),
        )
        frames[f"reliability_{name}"] = pd.DataFrame(artifacts[name]["reliability"])
    frames["thresholds"] = pd.Series(artifacts.get("thresholds", {}), name="threshold").rename_axis("category").to_frame()
    return frames


def precision_coverage_curve(
    proba: np.ndarray, y_true: Sequence[str], category: str, grid: np.ndarray = THRESHOLD_GRID
) -> pd.DataFrame:
    """What each review threshold of one category would do: how many decisions stay automatic, how right they are.

    Tickets predicted as ``category`` with confidence at or above the threshold are decided without
    review (the rule of ``TicketClassifier.predict``); the rest get ``needs_review``.

    Args:
        proba: calibrated probabilities, columns in ``CATEGORIES`` order.
        y_true: true categories.
        category: the predicted category whose threshold is tuned.
        grid: thresholds to evaluate.

    Returns:
        One row per threshold: ``threshold``, ``coverage`` (share of the category's predictions decided
        automatically), ``precision`` (share of those that are right; NaN when none), ``n_auto``, ``n_predicted``.
    """
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true)
    pred = np.asarray(CATEGORIES)[proba.argmax(axis=1)]
    mask = pred == category
    confidence = proba.max(axis=1)[mask]
    correct = y_true[mask] == category
    kept = confidence[None, :] >= np.asarray(grid, dtype=float)[:, None]  # thresholds x predictions
    n_auto = kept.sum(axis=1)
    hits = (kept & correct[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_auto > 0, hits / np.maximum(n_auto, 1), np.nan)
    n_predicted = int(mask.sum())
    return pd.DataFrame(
        {
            "threshold": np.asarray(grid, dtype=float),
            "coverage": n_auto / n_predicted if n_predicted else np.zeros(len(grid)),
            "precision": precision,
            "n_auto": n_auto,
            "n_predicted": n_predicted,
        }
    )


def operating_points(proba: np.ndarray, y_true: Sequence[str], thresholds: dict[str, float]) -> pd.DataFrame:
    """Coverage and precision of every category at its tuned threshold.

    Args:
        proba: calibrated probabilities, columns in ``CATEGORIES`` order.
        y_true: true categories.
        thresholds: category -> review threshold (the model's ``thresholds``).

    Returns:
        One row per category: ``threshold``, ``coverage``, ``precision``, ``n_auto``, ``n_predicted``.
    """
    rows = {}
    for category in CATEGORIES:
        t = float(thresholds.get(category, 0.0))
        rows[category] = precision_coverage_curve(proba, y_true, category, grid=np.array([t])).iloc[0]
    return pd.DataFrame(rows).T.rename_axis("category").astype(
        {"threshold": float, "coverage": float, "precision": float, "n_auto": int, "n_predicted": int}
    )


def worst_errors(frame: pd.DataFrame, proba: np.ndarray, n: int = 10) -> pd.DataFrame:
    """The mistakes the model was surest of, with their text.

    Args:
        frame: labelled tickets (``text``, ``category``), rows matching ``proba``.
        proba: calibrated probabilities, columns in ``CATEGORIES`` order.
        n: how many to return.

    Returns:
        Up to ``n`` rows, most confident first: ``true``, ``predicted``, ``confidence``, ``text`` and
        ``intent``/``ticket_id`` when the frame has them.
    """
    proba = np.asarray(proba, dtype=float)
    predicted = np.asarray(CATEGORIES)[proba.argmax(axis=1)]
    out = pd.DataFrame(
        {"true": frame["category"].to_numpy(), "predicted": predicted, "confidence": proba.max(axis=1)},
        index=frame.index,
    )
    for extra in ("ticket_id", "intent"):
        if extra in frame.columns:
            out[extra] = frame[extra].to_numpy()
    out["text"] = frame["text"].to_numpy()
    wrong = out[out["true"] != out["predicted"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable").head(n)
