"""The learned signals: threshold choice, head training and saving, and how the rules read them."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline.signals import SIGNAL_SPECS, choose_signal_threshold, signal_figures, signal_truth, train_signal_head
from serving.decision import CATEGORIES, Prediction
from serving.model.heads import SignalHead
from serving.rules import signals
from serving.rules.routing import decide
from serving.rules.textprep import prepare_text
from serving.tickets import parse_ticket


@pytest.mark.parametrize(
    ("target", "expected"),
    [(1.0, 0.2), (0.95, 0.2), (0.67, 0.2), (0.66, 0.8), (0.5, 0.8), (1 / 3, 0.9), (0.01, 0.9)],
)
def test_threshold_is_the_highest_that_reaches_the_recall_target(target, expected):
    # Three positives scored 0.9, 0.8 and 0.2; the negatives (0.7, 0.1) do not move the threshold.
    proba = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    truth = np.array([True, True, False, True, False])
    threshold = choose_signal_threshold(proba, truth, target)
    assert threshold == expected
    assert (proba[truth] >= threshold).mean() >= target


def test_precision_floor_keeps_one_hard_family_from_pulling_the_threshold_down():
    # Four positives; the last scores below four negatives. Reaching recall 1.0 costs precision 4/8.
    proba = np.array([0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.1])
    truth = np.array([True, True, True, False, False, False, False, False, True])
    assert choose_signal_threshold(proba, truth, 1.0) == 0.1
    assert choose_signal_threshold(proba, truth, 1.0, precision_floor=0.4) == 0.1  # 4/9 >= 0.4
    assert choose_signal_threshold(proba, truth, 1.0, precision_floor=0.5) == 0.8  # the most recall at 0.5
    assert choose_signal_threshold(proba, truth, 0.75, precision_floor=0.5) == 0.8  # the target is met
    only_bad = np.array([True, False, False, False])
    assert choose_signal_threshold(np.array([0.1, 0.9, 0.8, 0.7]), only_bad, 1.0, precision_floor=0.5) == 0.1


def test_threshold_needs_positives():
    with pytest.raises(ValueError, match="truth"):
        choose_signal_threshold(np.array([0.3, 0.4]), np.array([False, False]), 0.95)


def test_truth_from_intents_sums_a_signals_intents():
    truth = signal_truth(pd.Series(["insurance_update", "in_network_check", "fee_dispute", None]), ("insurance",))
    assert truth[:, 0].tolist() == [True, True, False, False]


def _blobs(intents, sizes, rng):
    """Train and validation features where each intent is its own cluster: [(features, labels), ...]."""
    centres = {intent: rng.normal(0, 4, 16) for intent in intents}
    parts = []
    for size in sizes:
        labels = [intent for intent in intents for _ in range(size)]
        parts.append((np.vstack([centres[i] + rng.normal(0, 1, 16) for i in labels]), pd.Series(labels)))
    return parts


def test_head_learns_the_signals_its_data_has_and_meets_the_target_on_validation():
    rng = np.random.default_rng(0)
    intents = ["locked_out", "password_reset", "insurance_update", "in_network_check", "fee_dispute"]
    (f_train, y_train), (f_val, y_val) = _blobs(intents, (30, 12), rng)
    head = train_signal_head(f_train, y_train, f_val, y_val, recall_target=0.9, precision_floor=0.5, seed=0)
    assert head.names == ("locked_out", "insurance")  # only the signals whose intents are in the data
    assert head.signals["insurance"] == ["insurance_update", "in_network_check"]
    assert head.coef.shape == (len(intents), 16) and head.beta > 0
    for name in head.names:
        assert head.info["validation"][name]["recall"] >= 0.9
        assert head.info["validation"][name]["precision"] >= 0.5
    assert head.info["recall_target"] == 0.9


def test_no_head_without_signal_intents():
    rng = np.random.default_rng(1)
    (f_train, y_train), (f_val, y_val) = _blobs(["password_reset", "fee_dispute", "how_to"], (20, 5), rng)
    assert train_signal_head(f_train, y_train, f_val, y_val, recall_target=0.95, precision_floor=0.5, seed=0) is None


def test_signal_figures_count_by_hand():
    head = SignalHead(["a", "b", "c"], np.zeros((3, 2)), np.zeros(3), 1.0, {"x": ["a"]}, {"x": 0.5})
    proba = np.array([[0.9], [0.6], [0.4], [0.1]])
    truth = np.array([[True], [False], [True], [False]])
    assert signal_figures(proba, truth, head) == {"x": {"precision": 0.5, "recall": 0.5, "fired": 2, "positives": 2}}


def test_head_round_trips_through_its_files(tmp_path):
    head = SignalHead(
        intents=["a", "b", "c"], coef=np.arange(6.0).reshape(3, 2), intercept=np.array([0.1, 0.2, 0.3]), beta=1.5,
        signals={"locked_out": ["a"], "insurance": ["b", "c"]}, thresholds={"locked_out": 0.4, "insurance": 0.25},
        info={"recall_target": 0.95},
    )  # fmt: skip
    head.save(tmp_path)
    loaded = SignalHead.load(tmp_path)
    assert loaded.names == ("locked_out", "insurance") and loaded.beta == 1.5
    np.testing.assert_array_equal(loaded.coef, head.coef)
    np.testing.assert_array_equal(loaded.members, [[1, 0, 0], [0, 1, 1]])
    assert loaded.thresholds == head.thresholds and loaded.info == head.info
    assert SignalHead.load(tmp_path / "elsewhere") is None


def test_every_signal_the_rules_read_has_training_intents_and_a_pattern():
    assert set(SIGNAL_SPECS) == set(signals.SIGNALS) == set(signals.PATTERNS)
    assert set(signals.PATTERN_KEPT) <= set(signals.SIGNALS)
    assert set(signals.PATTERN_KEPT.values()) <= {"or", "and"}


@pytest.mark.parametrize("learned", [True, False, None])
@pytest.mark.parametrize("name", signals.SIGNALS)
def test_signal_fired_combines_as_declared(name, learned, monkeypatch):
    for pattern in (True, False):
        monkeypatch.setitem(signals.PATTERNS, name, lambda _, fired=pattern: fired)
        got = signals.signal_fired(name, {} if learned is None else {name: learned}, prepare_text("x"))
        kept = signals.PATTERN_KEPT.get(name)
        if learned is None:
            expected = pattern  # not learned: the pattern decides
        elif kept == "or":
            expected = learned or pattern
        elif kept == "and":
            expected = learned and pattern
        else:
            expected = learned
        assert got is expected


CREATED = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


def _decide(text, category, learned, **fields):
    probabilities = {c: 0.9 if c == category else 0.025 for c in CATEGORIES}
    ticket = parse_ticket({"text": text, "created_at": CREATED.isoformat(), **fields})
    return decide(ticket, Prediction(category, 0.9, probabilities, False, "7", learned))


def test_rules_read_the_learned_signals_and_fall_back_to_patterns():
    text = "my account is locked after too many attempts"
    assert _decide(text, "technical", {}).rule_id == "TECH-LOCKED-OUT"  # no head: the pattern
    assert _decide(text, "technical", {"locked_out": False}).rule_id == "TECH-SUPPORT"  # learned only
    assert _decide("I can't get in at all", "technical", {"locked_out": True}).rule_id == "TECH-LOCKED-OUT"
    # A lock-out on a billing ticket is a conflict, whichever way the signal came.
    assert _decide("why was I charged twice", "billing", {"locked_out": True}).needs_review
    assert not _decide("why was I charged twice", "billing", {"locked_out": False}).needs_review
    soon = (CREATED + timedelta(hours=4)).isoformat()
    # Emergency: the learned signal OR its pattern; the ticket's emergency field wins over both.
    assert _decide("cancel please", "scheduling", {"emergency": True}, appointment_at=soon).rule_id == "SCHED-LT24-EMERGENCY"
    assert _decide("cancel please", "scheduling", {"emergency": False}, appointment_at=soon).rule_id == "SCHED-LT24"
    hospital = "cancel please, my dad was rushed to the hospital"
    assert _decide(hospital, "scheduling", {"emergency": False}, appointment_at=soon).rule_id == "SCHED-LT24-EMERGENCY"
    assert _decide(hospital, "scheduling", {"emergency": True}, appointment_at=soon, emergency=False).rule_id == "SCHED-LT24"
    assert _decide("why this fee", "billing", {"insurance": True}).rule_id == "BILL-INSURANCE"
    assert _decide("she never joined", "scheduling", {"provider_no_show": True}).rule_id == "SCHED-NO-SHOW"
    assert _decide("my meds", "clinical", {"urgent_refill": True}).rule_id == "CLIN-URGENT-REFILL"
    assert _decide("please end it", "clinical", {"end_care": True}).rule_id == "CLIN-END-CARE"
    assert _decide("move me", "scheduling", {"recurring_series": True}).rule_id == "SCHED-RECURRING"


def test_prediction_without_signals_is_the_five_field_prediction():
    prediction = Prediction("billing", 0.9, {}, False, "7")
    assert prediction.signals == {}
    assert Prediction("billing", 0.9, {}, False, "7").signals is not prediction.signals  # not shared
