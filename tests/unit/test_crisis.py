"""Crisis patterns: the labelled set they were tuned on and the contract's idioms."""

import pytest

from serving.rules.crisis import detect_crisis
from pipeline.evaluation.crisis import load_crisis_set, main, score_crisis_set


def test_labelled_set_size():
    rows = load_crisis_set()
    assert sum(r["label"] for r in rows) >= 180
    assert sum(1 - r["label"] for r in rows) >= 180


def test_patterns_still_catch_the_set_they_were_tuned_on():
    # A regression pin on tuned data, not a measure of recall (see pipeline/evaluation/crisis.py).
    scores = score_crisis_set(load_crisis_set())
    assert scores.recall == 1.0, scores.missed
    assert scores.false_positive_rate <= 0.02, scores.false_alarms


def test_report_exit_code(capsys):
    assert main(["--patterns-only"]) == 0
    assert "recall" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text",
    ["this login page is killing me", "dying to know my copay", "the session was a lifesaver",
     "I'm not suicidal, just tired of this app", "kill the app and restart"],
)
def test_contract_idioms_do_not_fire(text):
    assert not detect_crisis(text)


@pytest.mark.parametrize(
    "text",
    ["I don't see the point anymore", "I've started cutting again",
     "everyone would be better off without me", "I'm not okay and I want to die",
     "I'm not suicidal but I don't want to be here anymore"],
)
def test_contract_examples_fire(text):
    assert detect_crisis(text)
