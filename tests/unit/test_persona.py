"""The routing tuning set's persona tickets as training rows (pipeline.persona)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.data import Split
from pipeline.persona import RULE_INTENTS, persona_rows, with_persona_tickets
from serving.decision import RULE_IDS


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _ticket(text, category, rule, emergency=None):
    return {"text": text, "expected_category": category, "expected_rule_id": rule, "expected_route": "provider",
            "emergency": emergency}  # fmt: skip


def test_every_rule_id_has_an_intent_entry():
    assert set(RULE_INTENTS) == set(RULE_IDS)


def test_rules_name_the_signal_intents_and_escalations_their_provider_rule(tmp_path):
    path = _write(tmp_path / "tune.jsonl", [
        _ticket("locked out for good", "technical", "TECH-LOCKED-OUT"),
        _ticket("video froze", "technical", "TECH-SUPPORT"),
        _ticket("no reply about my dose for a week", "clinical", "ESCALATE-48H"),
        _ticket("no reply about moving my series", "scheduling", "ESCALATE-48H"),
        _ticket("cancel in 3 hours", "scheduling", "SCHED-LT24-EMERGENCY", emergency=True),
        _ticket("new insurance card", "billing", "BILL-INSURANCE"),
    ])  # fmt: skip
    rows = persona_rows(path)
    assert rows["category"].tolist() == ["technical", "technical", "clinical", "scheduling", "scheduling", "billing"]
    assert rows["intent"].tolist()[:3] == ["locked_out", "persona_technical", "persona_clinical"]
    assert rows["intent"].isna().tolist()[3:5] == [True, True]  # unknown intent; the field decided
    assert rows["intent"].iloc[5] == "insurance_update"


def test_an_unknown_rule_id_is_refused_by_name(tmp_path):
    path = _write(tmp_path / "tune.jsonl", [_ticket("hello", "account", "ACCOUNT-HELP")])
    with pytest.raises(ValueError, match="expected_rule_id.*ACCOUNT-HELP"):
        persona_rows(path)


def test_persona_tickets_join_training_and_validation_never_test(tmp_path):
    path = _write(tmp_path / "tune.jsonl", [_ticket(f"video froze {i}", "technical", "TECH-SUPPORT") for i in range(8)])
    part = pd.DataFrame({"text": ["a", "b"], "category": ["account", "billing"], "intent": ["how_to", "refund_request"]})
    split, added = with_persona_tickets(Split(train=part, val=part.iloc[:1], test=part.iloc[1:]), path, seed=0, weight=1)
    assert added == 8
    assert split.train["text"].tolist()[:2] == ["a", "b"] and len(split.train) == 2 + 6
    assert len(split.val) == 1 + 2  # a quarter of the rule's tickets
    assert split.val["persona"].tolist() == [False, True, True]  # the temperature is fitted on the first
    assert split.test["text"].tolist() == ["b"]
    persona = set(split.train["text"][2:]) | set(split.val["text"][1:])
    assert persona == {f"video froze {i}" for i in range(8)}  # every row once
    assert split.train.equals(with_persona_tickets(Split(part, part.iloc[:1], part.iloc[1:]), path, seed=0, weight=1)[0].train)
    heavy = with_persona_tickets(Split(part, part.iloc[:1], part.iloc[1:]), path, seed=0, weight=3)[0]
    assert heavy.train["text"].value_counts()[split.train["text"][2]] == 3 and len(heavy.val) == len(split.val)
    no_intents = Split(train=part.drop(columns="intent"), val=part.drop(columns="intent"), test=part)
    assert "intent" not in with_persona_tickets(no_intents, path, seed=0)[0].train.columns


def test_the_persona_path_is_on_by_default_and_empty_turns_it_off(monkeypatch):
    from serving.settings import PROJ_ROOT, Settings

    assert Settings().routing_tune_path == PROJ_ROOT / "data" / "routing" / "tune.jsonl"
    monkeypatch.setenv("TRIAGE_ROUTING_TUNE_PATH", "")
    assert Settings().routing_tune_path is None
