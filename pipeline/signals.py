"""Fit the learned routing signals: an intent head on the category model's features, thresholds per signal.

Which head: one multinomial logistic regression over all the sample's intents, its probabilities
summed per signal, was measured against one binary logistic regression per signal on the same
features. Over four family splits (seeds 42, 1, 2, 3; recall target 0.95) the intent head had the
higher F1 on held-out families for four signals (binary: insurance and provider no-show; urgent
refill even) and on the routing tuning set for five (two even); summed over the seven signals,
6.07 against 5.87 held out. The intent head is the one trained here: softmax over intents lets
near misses (a client's own missed session, a forgotten password) compete with the signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from serving.model.heads import SignalHead
from serving.rules.signals import SIGNALS

log = logging.getLogger(__name__)

# Measured with C = 4, 16 and 64: the held-out figures barely moved; 16 is the category model's usual winner.
SIGNAL_C = 16.0


@dataclass(frozen=True)
class SignalSpec:
    """Where a signal's labels come from and which rule reads it.

    Attributes:
        intents: training intents that are positives of the signal.
        category: the category whose rules read the signal.
        rule_id: the rule the signal picks.
    """

    intents: tuple[str, ...]
    category: str
    rule_id: str


SIGNAL_SPECS: dict[str, SignalSpec] = {
    "emergency": SignalSpec(("emergency_cancel",), "scheduling", "SCHED-LT24-EMERGENCY"),
    "locked_out": SignalSpec(("locked_out",), "technical", "TECH-LOCKED-OUT"),
    "urgent_refill": SignalSpec(("medication_refill_urgent",), "clinical", "CLIN-URGENT-REFILL"),
    "end_care": SignalSpec(("end_care",), "clinical", "CLIN-END-CARE"),
    "provider_no_show": SignalSpec(("provider_no_show",), "scheduling", "SCHED-NO-SHOW"),
    "recurring_series": SignalSpec(("recurring_series",), "scheduling", "SCHED-RECURRING"),
    "insurance": SignalSpec(("insurance_update", "in_network_check"), "billing", "BILL-INSURANCE"),
}
assert tuple(SIGNAL_SPECS) == SIGNALS, "every signal the rules read needs its training intents"


def signal_truth(intents: pd.Series | np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(tickets x signals) booleans: whether each ticket's intent is a positive of each signal."""
    intents = pd.Series(np.asarray(intents, dtype=object))
    return np.column_stack([intents.isin(SIGNAL_SPECS[n].intents).to_numpy() for n in names])


def choose_signal_threshold(
    proba: np.ndarray, truth: np.ndarray, recall_target: float, precision_floor: float = 0.0
) -> float:
    """The highest threshold at which the signal still finds ``recall_target`` of the positives.

    A few validation families decide each threshold, and one family the head reads badly can
    pull it to almost zero, where the signal fires on most tickets. The precision floor stops
    that: when the recall target costs more precision than the floor allows, the threshold is the
    lowest one whose precision stays at or above the floor (the most recall the floor allows).

    Args:
        proba: validation probabilities of the signal.
        truth: whether each validation ticket is a positive.
        recall_target: wanted share of positives at or above the threshold.
        precision_floor: least share of true positives among the tickets at or above it.

    Returns:
        A positive's probability: at the recall target, k = ceil(recall_target x positives), the
        k-th highest; else the lowest whose precision meets the floor; else the highest.

    Raises:
        ValueError: when there are no positives to choose from.
    """
    proba, truth = np.asarray(proba, dtype=float), np.asarray(truth, dtype=bool)
    positives = np.sort(proba[truth])[::-1]
    if positives.size == 0:
        raise ValueError("truth: no positive examples to choose a threshold from")
    k = int(np.ceil(recall_target * positives.size - 1e-9))

    def precision(threshold: float) -> float:
        fired = proba >= threshold
        return float(truth[fired].mean())

    chosen = float(positives[max(k, 1) - 1])
    if precision(chosen) >= precision_floor:
        return chosen
    meeting = [float(t) for t in positives[:k] if precision(t) >= precision_floor]
    return min(meeting) if meeting else float(positives[0])


def signal_figures(proba: np.ndarray, truth: np.ndarray, head: SignalHead) -> dict[str, dict[str, float]]:
    """Precision, recall and counts of each signal at the head's thresholds.

    Args:
        proba: (tickets x signals) probabilities, columns in ``head.names`` order.
        truth: the same shape, booleans from ``signal_truth``.
        head: the head whose thresholds apply.

    Returns:
        name -> precision, recall, fired, positives.
    """
    fired = proba >= head.threshold_vector
    figures = {}
    for j, name in enumerate(head.names):
        hits = int((fired[:, j] & truth[:, j]).sum())
        n_fired, n_pos = int(fired[:, j].sum()), int(truth[:, j].sum())
        figures[name] = {
            "precision": hits / n_fired if n_fired else 0.0,
            "recall": hits / n_pos if n_pos else 0.0,
            "fired": n_fired,
            "positives": n_pos,
        }
    return figures


def train_signal_head(
    f_train: Any,
    intents_train: pd.Series,
    f_val: Any,
    intents_val: pd.Series,
    *,
    recall_target: float,
    precision_floor: float,
    seed: int,
) -> SignalHead | None:
    """Fit the intent head on the category model's training features and set each signal's threshold.

    A signal is learned when the training tickets include its intents and the validation families
    have positives to set its threshold on; the others are left to their text patterns.

    Args:
        f_train: the fitted feature union's output for the training tickets.
        intents_train: their intents (missing values are left out of the head).
        f_val: the union's output for the validation tickets (other families).
        intents_val: their intents.
        recall_target: share of validation positives each signal must find.
        precision_floor: least validation precision a threshold may cost (``choose_signal_threshold``).
        seed: random seed of the solver.

    Returns:
        The head, or None when no signal can be learned from these intents.
    """
    train_known = intents_train.notna().to_numpy()
    y_train = intents_train[train_known].astype(str).to_numpy()
    classes = set(y_train)
    val_known = intents_val.isin(classes).to_numpy()
    y_val = intents_val[val_known].astype(str).to_numpy()
    names = tuple(
        n for n in SIGNALS
        if set(SIGNAL_SPECS[n].intents) & classes and np.isin(y_val, SIGNAL_SPECS[n].intents).any()
    )  # fmt: skip
    skipped = sorted(set(SIGNALS) - set(names))
    if skipped:
        log.info("signals left to their patterns (no training or validation positives): %s", skipped)
    if not names or len(classes) < 3:  # a two-class regression has one weight row, not a softmax
        return None
    model = LogisticRegression(C=SIGNAL_C, max_iter=2000, class_weight="balanced", random_state=seed)
    model.fit(f_train[train_known], y_train)
    everything = np.arange(len(y_val))  # one "split" whose test part is all of val, as for the categories
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="temperature", cv=[(everything, everything)])
    calibrated.fit(f_val[val_known], y_val)
    (scaler,) = calibrated.calibrated_classifiers_[0].calibrators
    intents = [str(c) for c in model.classes_]
    signals = {n: [i for i in SIGNAL_SPECS[n].intents if i in classes] for n in names}
    columns = {i: k for k, i in enumerate(intents)}
    intent_proba = calibrated.predict_proba(f_val[val_known])
    proba = np.column_stack([intent_proba[:, [columns[i] for i in signals[n]]].sum(axis=1) for n in names])
    truth = signal_truth(y_val, names)
    thresholds = {
        n: choose_signal_threshold(proba[:, j], truth[:, j], recall_target, precision_floor) for j, n in enumerate(names)
    }
    head = SignalHead(
        intents=intents, coef=model.coef_, intercept=model.intercept_, beta=float(scaler.beta_),
        signals=signals, thresholds=thresholds,
    )  # fmt: skip
    head.info = {
        "recall_target": recall_target, "precision_floor": precision_floor, "C": SIGNAL_C,
        "validation": signal_figures(proba, truth, head),
    }  # fmt: skip
    return head
