"""The champion's learned signals: what the head holds, and the issue's hard negatives routed right.

The examples below are pinned regressions (written for this test, not taken from any evaluation
set); they say nothing about recall on new wording, which ``pipeline.evaluation.signals`` measures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serving.rules.signals import SIGNALS
from serving.scoring import score_batch

pytestmark = pytest.mark.slow

CREATED = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
SOON = (CREATED + timedelta(hours=4)).isoformat()
EARLIER = (CREATED - timedelta(hours=20)).isoformat()


def test_the_champion_learned_every_signal(champion):
    head = champion.signal_head
    assert head is not None and head.names == SIGNALS
    assert head.info["recall_target"] == 0.95
    for name in SIGNALS:
        assert 0.0 < head.thresholds[name] < 1.0
        assert head.info["validation"][name]["recall"] >= 0.95 or head.info["precision_floor"] > 0
    prediction = champion.predict_one("my account is locked after too many attempts")
    assert list(prediction.signals) == [*SIGNALS, "crisis"] and prediction.signals["locked_out"] is True


@pytest.mark.parametrize(
    ("text", "fields", "rule_id"),
    [
        # Not locked out: a forgotten password is TECH-SUPPORT.
        ("I'm not locked out, I just forgot my password", {}, "TECH-SUPPORT"),
        ("Not locked out or anything, I just can't remember my password. How do I reset it?", {}, "TECH-SUPPORT"),
        ("my account is locked after too many attempts and the reset code never arrives", {}, "TECH-LOCKED-OUT"),
        # An emergency at work is not a medical or family emergency.
        ("I have an emergency at work and need to cancel my session", {"appointment_at": SOON}, "SCHED-LT24"),
        ("Work emergency, I have to cancel today's session, sorry", {"appointment_at": SOON}, "SCHED-LT24"),
        ("my mom was rushed to the hospital, I need to cancel my session", {"appointment_at": SOON}, "SCHED-LT24-EMERGENCY"),
        # The client missing their own session is SCHED-PAST, not a provider no-show.
        ("I missed my session yesterday, I overslept. Can I reschedule?", {"appointment_at": EARLIER}, "SCHED-PAST"),
        ("I was a no-show for my session yesterday, my fault. Will I be charged?", {"appointment_at": EARLIER}, "SCHED-PAST"),
        ("My therapist never showed up for our session yesterday", {"appointment_at": EARLIER}, "SCHED-NO-SHOW"),
    ],
)
def test_hard_negatives_route_by_the_contract(champion, text, fields, rule_id):
    (decision,) = score_batch(champion, [{"text": text, "created_at": CREATED.isoformat(), **fields}])
    assert decision.rule_id == rule_id


def test_signals_are_the_same_alone_and_in_a_batch(champion):
    import pandas as pd

    from tests.conftest import SAMPLE

    texts = pd.read_csv(SAMPLE, dtype=str)["text"].head(200).tolist()
    batch = champion.predict_signals(texts)
    alone = [champion.predict_signals([t])[0] for t in texts[:40]]
    assert all((batch[i] == row).all() for i, row in enumerate(alone))  # bit for bit
    assert [p.signals for p in champion.predict(texts[:40])] == [champion.predict_one(t).signals for t in texts[:40]]
