"""Evaluation figures on a hand-made example whose answers are worked out by hand."""

import numpy as np
import pytest

from pipeline.evaluation.metrics import classification_report, expected_calibration_error, format_report
from pipeline.train import choose_thresholds
from serving.decision import CATEGORIES


def one_hot(labels, confidence):
    proba = np.full((len(labels), len(CATEGORIES)), (1 - confidence) / (len(CATEGORIES) - 1))
    for i, label in enumerate(labels):
        proba[i, CATEGORIES.index(label)] = confidence
    return proba


def test_report_figures_by_hand():
    # 4 clinical (3 right, 1 called billing), 2 billing (both right), 2 technical (1 right, 1 called account).
    y_true = ["clinical"] * 4 + ["billing"] * 2 + ["technical"] * 2
    y_pred = ["clinical", "clinical", "clinical", "billing", "billing", "billing", "technical", "account"]
    report = classification_report(y_true, one_hot(y_pred, 0.8))
    clinical = report["per_category"]["clinical"]
    billing = report["per_category"]["billing"]
    assert clinical == {"precision": 1.0, "recall": 0.75, "f1": pytest.approx(6 / 7), "support": 4}
    assert billing["precision"] == pytest.approx(2 / 3) and billing["recall"] == 1.0
    assert report["per_category"]["technical"]["f1"] == pytest.approx(2 / 3)
    assert report["per_category"]["account"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # Macro-F1 over all five labels: (6/7 + 0.8 + 0 + 2/3 + 0) / 5.
    assert report["macro_f1"] == pytest.approx((6 / 7 + 0.8 + 2 / 3) / 5)
    assert report["accuracy"] == pytest.approx(6 / 8)
    # Every prediction has confidence 0.8 and 6/8 are right: ECE = |0.8 - 0.75|.
    assert report["ece"] == pytest.approx(0.05)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.sum() == 8 and matrix[CATEGORIES.index("clinical"), CATEGORIES.index("billing")] == 1
    assert "macro-F1" in format_report(report)


def test_ece_is_zero_when_confidence_matches_accuracy():
    confidence = np.array([0.9] * 10 + [0.55] * 20)
    correct = np.array([True] * 9 + [False] + [True] * 11 + [False] * 9)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-12)


def test_ece_weights_bins_by_size():
    confidence = np.array([0.95, 0.95, 0.25, 0.25])
    correct = np.array([True, True, True, True])
    # Half the examples 0.05 off, half 0.75 off.
    assert expected_calibration_error(confidence, correct) == pytest.approx((0.05 + 0.75) / 2)


def test_thresholds_reach_precision_target():
    # Clinical predictions: confident ones right, unsure ones wrong; the threshold must cut between them.
    y_pred = ["clinical"] * 10
    y_true = np.array(["clinical"] * 6 + ["billing"] * 4)
    proba = one_hot(y_pred, 0.9)
    proba[6:, CATEGORIES.index("clinical")] = 0.5
    thresholds = choose_thresholds(proba, y_true, precision_target=0.9)
    assert 0.5 < thresholds["clinical"] <= 0.9
    # Categories never predicted get 1.0: nothing is decided automatically without evidence.
    assert thresholds["account"] == 1.0
