"""The learned crisis score: training choices, the cascade, saving, routing, and the report.

The pinned texts below are regressions (the issue's examples, which the training set contains), not a
measure of recall: cross-validated figures are logged by training, and only a sealed set measures.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from pipeline.crisis import _threshold_keeping, load_examples, near_duplicate_groups
from pipeline.evaluation.crisis import main as crisis_report
from serving.decision import Prediction
from serving.model.classifier import TicketClassifier
from serving.model.crisis import CRISIS_DIR, ONNX_FILE, WEIGHTS_FILE, sentence_windows
from serving.rules.crisis import matching_rules
from serving.rules.routing import decide
from serving.scoring import score_one
from serving.tickets import parse_ticket

NOW = datetime(2026, 3, 5, 18, 0, tzinfo=timezone.utc)
ISSUE_EXAMPLES = [
    "Not a day goes by that I don't want to kill myself",
    "I can't promise I won't hurt myself tonight",
    "I don't know if I can keep myself safe",
    "I relapsed and cut again last night",
    "It would be easier if I just didn't wake up",
    "honestly everyone would be better off if I didn't wake up tomorrow",
]
ORDINARY = [
    "I need to cancel my session tomorrow at 7am",
    "How do I update my credit card on file?",
    "The video keeps freezing during my sessions",
    "this login page is killing me",
]


def _prediction(signals: dict[str, bool]) -> Prediction:
    probabilities = {"clinical": 0.1, "scheduling": 0.1, "billing": 0.6, "technical": 0.1, "account": 0.1}
    return Prediction("billing", 0.6, probabilities, False, "test", signals)


def test_the_learned_signal_alone_routes_to_safety_crisis():
    ticket = parse_ticket({"text": "Please refund this month, I won't be around next month."}, now=NOW)
    assert decide(ticket, _prediction({"crisis": True})).rule_id == "SAFETY-CRISIS"
    # Without the signal (an older model) only the patterns decide, and they do not fire here.
    assert decide(ticket, _prediction({})).rule_id != "SAFETY-CRISIS"
    assert decide(ticket, _prediction({"crisis": False})).rule_id != "SAFETY-CRISIS"


def test_the_models_crisis_signal_is_the_whole_verdict_and_patterns_decide_without_it():
    ticket = parse_ticket({"text": "I'm not okay and I want to die"}, now=NOW)
    # A model with the learned score already read the patterns (serving.model.crisis): its "no" holds.
    assert decide(ticket, _prediction({"crisis": False})).rule_id != "SAFETY-CRISIS"
    assert decide(ticket, _prediction({})).rule_id == "SAFETY-CRISIS"


def test_a_confirmed_pattern_flags_only_when_the_transformer_agrees(champion):
    text = "I'm not okay and I want to die"
    (rule,) = matching_rules(text)
    features = champion.features([text])
    detector = dataclasses.replace(champion.crisis, gate=1.1)  # nothing passes the fast gate
    assert detector.flags([text], features, [frozenset({rule})])  # an unconfirmed pattern flags alone
    assert not detector.flags([text], features, None)  # the learned score alone, gated off
    strict = dataclasses.replace(detector, confirmed_rules=(rule,), confirm_threshold=1.01)
    assert not strict.flags([text], features, [frozenset({rule})])
    lenient = dataclasses.replace(detector, confirmed_rules=(rule,), confirm_threshold=0.0)
    assert lenient.flags([text], features, [frozenset({rule})])
    # Indices are only trusted for the table they were measured on: another table confirms nothing.
    moved = dataclasses.replace(strict, rules_fingerprint="another table")
    assert moved.confirmed_rules == () and moved.flags([text], features, [frozenset({rule})])


@pytest.mark.parametrize("text", ISSUE_EXAMPLES)
def test_issue_examples_route_to_safety_crisis(champion, text):
    decision = score_one(champion, {"text": text, "created_at": NOW.isoformat()})
    assert decision.rule_id == "SAFETY-CRISIS" and decision.safety_flag


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_tickets_are_not_flagged(champion, text):
    assert champion.predict_one(text).signals["crisis"] is False


def test_the_champion_carries_the_detector_in_its_artifacts(champion, tmp_path):
    assert champion.crisis is not None and 0.0 < champion.crisis.gate < 1.0
    folder = champion.save(tmp_path / "classifier")
    assert (folder / CRISIS_DIR / ONNX_FILE).stat().st_size > 10_000_000
    with np.load(folder / CRISIS_DIR / WEIGHTS_FILE, allow_pickle=False) as weights:
        assert set(weights.files) == {"fast_coef", "deep_coef"}
    loaded = TicketClassifier.load(folder)
    texts = ISSUE_EXAMPLES + ORDINARY
    assert [p.signals for p in loaded.predict(texts)] == [p.signals for p in champion.predict(texts)]


BURIED = (
    "Hi, two things about my account. The card on file expired last month so please swap it for the new "
    "one ending 4471. I also need the March receipt for my HSA. I have been saving up my pills and I plan "
    "to take all of them this weekend. Anyway the receipt is the main thing. Thanks, Sam"
)
PLAIN_LONG = (
    "Hi, two things about my account. The card on file expired last month so please swap it for the new "
    "one ending 4471. I also need the March receipt for my HSA. The receipt is the main thing. Thanks, Sam"
)


def test_sentence_windows_cover_every_sentence_of_a_long_text():
    assert sentence_windows("One. Two. Three.", 3, 2) == []  # the whole text is the only run
    six = "One. Two. Three. Four. Five. Six."
    assert sentence_windows(six, 3, 2) == ["One. Two. Three.", "Three. Four. Five.", "Four. Five. Six."]
    assert sentence_windows("Dr. Lee said so. Then more. And more. The end.", 3, 2) == [
        "Dr. Lee said so. Then more. And more.", "Then more. And more. The end."
    ]  # "Dr." ends no sentence


def test_a_crisis_buried_in_a_long_message_is_flagged_by_a_run_of_sentences(champion):
    detector = champion.crisis
    assert detector.window_sentences == 3 and detector.window_gate >= detector.gate
    hits = detector.window_flags([BURIED, PLAIN_LONG], champion.features)
    assert hits.tolist() == [True, False]
    assert champion.predict_one(BURIED).signals["crisis"] and not champion.predict_one(PLAIN_LONG).signals["crisis"]
    off = dataclasses.replace(detector, window_sentences=0)
    assert not off.window_flags([BURIED], champion.features).any()  # runs off: models saved before them


@pytest.mark.xfail(reason="known defect: 'anyway' closes many buried crises in the training data, and the learned "
                          "score reads it as crisis in an ordinary run of sentences", strict=False)
def test_an_ordinary_closing_with_anyway_is_not_a_crisis(champion):
    assert not champion.predict_one("I also need the March receipt for my HSA. Anyway the receipt is the main thing. Thanks, Sam").signals["crisis"]


def test_a_text_gets_the_same_embedding_and_flag_alone_and_in_a_batch(champion):
    texts = ISSUE_EXAMPLES + ORDINARY + ["short", "a much longer message " * 40, BURIED, PLAIN_LONG]
    encoder = champion.crisis.encoder
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert (together == alone).all()
    assert [champion.predict_one(t).signals for t in texts] == [p.signals for p in champion.predict(texts)]


def test_a_model_without_the_detector_has_no_signals_and_keeps_the_patterns(champion):
    old = dataclasses.replace(champion, crisis=None)
    prediction = old.predict_one("I'm not okay and I want to die")
    assert "crisis" not in prediction.signals
    assert decide(parse_ticket({"text": "I'm not okay and I want to die"}, now=NOW), prediction).rule_id == "SAFETY-CRISIS"


def test_the_report_scores_a_file_per_kind_with_patterns_and_learned(champion, tmp_path, capsys):
    rows = [{"text": t, "label": 1, "kind": "issue"} for t in ISSUE_EXAMPLES]
    rows += [{"text": t, "label": 0, "kind": "ordinary"} for t in ORDINARY]
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    folder = champion.save(tmp_path / "model")
    assert crisis_report(["--data", str(data), "--model", str(folder)]) == 0
    out = capsys.readouterr().out
    issue = next(line for line in out.splitlines() if line.startswith("issue"))
    assert issue.split()[-1] == "1.000"  # either: every pinned example flagged
    assert next(line for line in out.splitlines() if line.startswith("ordinary")).split()[-1] == "0.000"
    # The exit code says whether recall reached --min-recall: the patterns alone miss some examples.
    assert crisis_report(["--data", str(data), "--patterns-only", "--min-recall", "1.0"]) == 1


def test_the_report_names_bad_lines(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "fine", "label": 1}\n{"text": "", "label": 1}\n')
    with pytest.raises(ValueError, match=r"lines \[2\]"):
        crisis_report(["--data", str(data), "--patterns-only"])


def test_threshold_keeps_the_recall_asked_for():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.5])
    positives = np.array([True, True, True, True, False, True])
    caught = np.array([False, False, False, False, False, True])  # the patterns already have one
    # 4 of 5 positives: the patterns give one, so the three best scores are needed.
    assert _threshold_keeping(scores, caught, positives, 0.8) == 0.7
    assert _threshold_keeping(scores, caught, positives, 0.2) == 1.0


def test_near_duplicates_and_one_family_share_a_group():
    texts = ["I don't want to be here anymore", "I really don't want to be here anymore",
             "reset my password please", "how do I change my email address", "the video call froze"]  # fmt: skip
    groups = near_duplicate_groups(texts, np.array(["", "", "f1", "f1", ""]))
    assert groups[0] == groups[1] and groups[2] == groups[3]
    assert len({groups[0], groups[2], groups[4]}) == 3


def test_examples_combine_the_hand_written_files_and_the_sample():
    sample = pd.DataFrame({"text": ["I want to die", "reset my password"], "intent": ["crisis", "password_reset"],
                           "family": ["a", "b"], "category": ["clinical", "technical"]})  # fmt: skip
    examples = load_examples(sample)
    assert set(examples["source"]) == {"train_positive", "train_negative", "crisis_set", "tune_round2", "tune_round3", "tune_round4", "tune_round5", "tune_round6", "tune_round7", "tune_round8", "train_negative8", "tune_round9", "tune_round10", "tune_round11", "tune", "sample"}
    assert examples.loc[examples["source"] == "sample", "label"].tolist() == [1, 0]
    assert (examples["text"].str.strip() != "").all() and set(examples["label"]) == {0, 1}
