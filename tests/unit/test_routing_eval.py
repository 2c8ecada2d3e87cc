"""Routing-set figures on hand-made decisions, the file checks, and the command on a real model."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.data import DataError
from pipeline.evaluation.routing import app, format_routing, read_routing_set, score_routing

EXPECTED = pd.DataFrame(
    {
        "text": ["a", "b", "c", "d", "e"],
        "expected_rule_id": ["SAFETY-CRISIS", "SAFETY-CRISIS", "SCHED-LT24", "SCHED-LT24", "BILL-INSURANCE"],
        "expected_route": ["provider", "provider", "provider", "provider", "support_team"],
        "expected_hours": [None, None, 5.0, 5.0, None],
        "expected_wait_hours": [None, None, None, None, 72.0],
    }
)
DECISIONS = pd.DataFrame(
    {
        "rule_id": ["SAFETY-CRISIS", "CLIN-PROVIDER", "SCHED-LT24", "SCHED-GE24", None],
        "route": ["provider", "provider", "provider", "support_team", None],
        "safety_flag": [True, False, False, True, None],
        "hours_until_appointment": [None, None, 5.0, 30.0, None],
        "hours_awaiting_provider": [None, None, None, None, None],
        "error": [None, None, None, None, "text: empty"],
    }
)


def test_figures_by_hand():
    report = score_routing(EXPECTED, DECISIONS, "3")
    assert report.tickets == 5 and report.rejected == 1
    assert report.route_accuracy == pytest.approx(3 / 5)  # the rejected ticket counts as wrong
    assert report.rule_accuracy == pytest.approx(2 / 5)
    assert report.per_rule == {"SAFETY-CRISIS": (1, 2), "SCHED-LT24": (1, 2), "BILL-INSURANCE": (0, 1)}
    assert ("SAFETY-CRISIS", "CLIN-PROVIDER", 1) in report.confusions
    assert ("BILL-INSURANCE", "REJECTED", 1) in report.confusions
    assert report.hours_exact == (1, 2) and report.wait_exact == (0, 1)
    assert report.crisis_recall == 0.5 and report.crisis_found == (1, 2)
    assert report.false_flags == (1, 3)
    text = format_routing(report)
    assert "route accuracy 0.600" in text and "SAFETY-CRISIS -> CLIN-PROVIDER: 1" in text


def test_without_hours_columns_the_shares_are_not_given():
    report = score_routing(EXPECTED.drop(columns=["expected_hours", "expected_wait_hours"]), DECISIONS, "3")
    assert report.hours_exact is None and report.wait_exact is None and "n/a" in format_routing(report)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["expected_route"]), "missing column"),
        (lambda f: f.assign(expected_rule_id="NOT-A-RULE"), "expected_rule_id must be one of"),
        (lambda f: f.assign(expected_route="somewhere"), "expected_route must be one of"),
    ],
)
def test_bad_routing_sets_are_refused(tmp_path, change, message):
    path = tmp_path / "set.jsonl"
    change(EXPECTED.copy()).to_json(path, orient="records", lines=True)
    with pytest.raises(DataError, match=message):
        read_routing_set(path)


@pytest.mark.slow
def test_the_command_scores_a_set_through_the_model(champion, tmp_path):
    rows = [
        {"text": "my account is locked after too many attempts", "created_at": "2026-03-05T18:00:00Z",
         "expected_rule_id": "TECH-LOCKED-OUT", "expected_route": "support_team", "expected_hours": None},
        {"text": "please cancel my session", "created_at": "2026-03-05T18:00:00Z",
         "appointment_at": "2026-03-06T20:00:00Z", "expected_rule_id": "SCHED-GE24",
         "expected_route": "support_team", "expected_hours": 26.0},
    ]  # fmt: skip
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    folder = champion.save(tmp_path / "model")
    results = tmp_path / "figures.json"
    result = CliRunner().invoke(app, [str(path), "--model", str(folder), "--results-fp", str(results)])
    assert result.exit_code == 0, result.output
    assert "rule accuracy  1.000" in result.output and "hours exact    1/1 (1.000)" in result.output
    assert json.loads(results.read_text())["per_rule"] == {"TECH-LOCKED-OUT": [1, 1], "SCHED-GE24": [1, 1]}
    bad = CliRunner().invoke(app, [str(tmp_path / "missing.jsonl"), "--model", str(folder)])
    assert bad.exit_code == 2 and "no such file" in bad.output
