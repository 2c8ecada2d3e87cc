"""Analyst figures: a run's evaluation as tables, review-threshold curves, worst errors."""

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.metrics import classification_report
from pipeline.evaluation.runs import evaluation_frames, operating_points, precision_coverage_curve, worst_errors
from pipeline.train import choose_thresholds
from serving.decision import CATEGORIES


def proba_for(predicted, confidence):
    proba = np.full((len(predicted), len(CATEGORIES)), 0.0)
    for i, (label, c) in enumerate(zip(predicted, confidence)):
        proba[i] = (1 - c) / (len(CATEGORIES) - 1)
        proba[i, CATEGORIES.index(label)] = c
    return proba


# Five tickets predicted clinical (confidence 0.9, 0.8, 0.7, 0.6, 0.5); the 0.8 and 0.5 ones are wrong.
PREDICTED = ["clinical"] * 5 + ["billing"]
CONFIDENCE = [0.9, 0.8, 0.7, 0.6, 0.5, 0.95]
TRUE = ["clinical", "billing", "clinical", "clinical", "account", "billing"]


@pytest.mark.parametrize(
    "threshold, coverage, precision, n_auto",
    [(0.0, 1.0, 3 / 5, 5), (0.55, 0.8, 3 / 4, 4), (0.75, 0.4, 1 / 2, 2), (0.85, 0.2, 1.0, 1)],
)
def test_precision_coverage_by_hand(threshold, coverage, precision, n_auto):
    curve = precision_coverage_curve(proba_for(PREDICTED, CONFIDENCE), TRUE, "clinical", grid=np.array([threshold]))
    row = curve.iloc[0]
    assert row["coverage"] == pytest.approx(coverage)
    assert row["precision"] == pytest.approx(precision)
    assert row["n_auto"] == n_auto and row["n_predicted"] == 5


def test_curve_is_nan_where_nothing_is_automatic_and_zero_for_unpredicted_category():
    proba = proba_for(PREDICTED, CONFIDENCE)
    curve = precision_coverage_curve(proba, TRUE, "clinical", grid=np.array([0.95]))
    assert curve["n_auto"].iloc[0] == 0 and np.isnan(curve["precision"].iloc[0])
    empty = precision_coverage_curve(proba, TRUE, "technical")
    assert (empty["coverage"] == 0).all() and empty["precision"].isna().all()


def test_tuned_threshold_is_the_first_curve_point_reaching_the_target():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(len(CATEGORIES)) * 0.4, size=400)
    y_true = np.where(rng.random(400) < proba.max(axis=1), np.asarray(CATEGORIES)[proba.argmax(axis=1)], "account")
    tuned = choose_thresholds(proba, y_true, 0.8)
    for category in CATEGORIES:
        curve = precision_coverage_curve(proba, y_true, category)
        reaching = curve[curve["precision"] >= 0.8]
        expected = reaching["threshold"].iloc[0] if len(reaching) else 1.0
        assert tuned[category] == pytest.approx(expected)
    points = operating_points(proba, y_true, tuned)
    assert list(points.index) == list(CATEGORIES)
    assert (points.loc[points["n_auto"] > 0, "precision"] >= 0.8).all()


def test_worst_errors_are_the_most_confident_mistakes_first():
    frame = pd.DataFrame({"text": [f"ticket {i}" for i in range(6)], "category": TRUE, "intent": ["x"] * 6})
    errors = worst_errors(frame, proba_for(PREDICTED, CONFIDENCE), n=5)
    assert errors["text"].tolist() == ["ticket 1", "ticket 4"]
    assert errors[["true", "predicted"]].values.tolist() == [["billing", "clinical"], ["account", "clinical"]]
    assert errors["confidence"].tolist() == pytest.approx([0.8, 0.5]) and "intent" in errors.columns


def test_evaluation_frames_put_the_sets_side_by_side():
    holdout = classification_report(TRUE, proba_for(PREDICTED, CONFIDENCE))
    external = classification_report(TRUE[:3], proba_for(PREDICTED[:3], CONFIDENCE[:3]))
    frames = evaluation_frames({"holdout": holdout, "external": external, "thresholds": {"clinical": 0.4}})
    assert list(frames["summary"].index) == ["holdout", "external"]
    assert frames["summary"].loc["external", "n"] == 3
    assert frames["per_category"].loc["clinical", ("holdout", "precision")] == pytest.approx(3 / 5)
    assert frames["confusion_holdout"].loc["billing", "clinical"] == 1
    assert frames["confusion_holdout"].to_numpy().sum() == 6
    assert frames["thresholds"].loc["clinical", "threshold"] == 0.4
    assert {"confidence", "accuracy", "count"} <= set(frames["reliability_external"].columns)


def test_evaluation_frames_without_external_set():
    holdout = classification_report(TRUE, proba_for(PREDICTED, CONFIDENCE))
    frames = evaluation_frames({"holdout": holdout, "thresholds": {}})
    assert list(frames["summary"].index) == ["holdout"] and "confusion_external" not in frames
