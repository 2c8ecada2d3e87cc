"""decide(): every rule id, its boundaries and the rule order."""

from datetime import UTC, datetime, timedelta

import pytest

from serving.decision import CATEGORIES, RULE_IDS, Prediction
from serving.rules.routing import decide
from serving.tickets import parse_ticket

CREATED = datetime(2024, 5, 15, 14, 0, tzinfo=UTC)


def prediction(category, *, uncertain=False, confidence=0.9):
    probabilities = {c: (confidence if c == category else (1 - confidence) / 4) for c in CATEGORIES}
    return Prediction(category, confidence, probabilities, uncertain, "7")


def route(text, category, **fields):
    raw = {"text": text, "created_at": CREATED.isoformat(), **fields}
    return decide(parse_ticket(raw), prediction(category))


def at(hours):
    return (CREATED + timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    ("text", "category", "fields", "rule_id", "route_to"),
    [
        ("I want to kill myself", "billing", {}, "SAFETY-CRISIS", "provider"),
        ("question about my treatment", "clinical", {"awaiting_provider_since": at(-48)},
         "ESCALATE-48H", "support_team"),
        ("my account is locked after too many attempts", "technical", {}, "TECH-LOCKED-OUT",
         "support_team"),
        ("I forgot my password", "technical", {}, "TECH-SUPPORT", "support_team"),
        ("how do I turn on 2-step verification", "technical", {}, "TECH-SUPPORT", "support_team"),
        ("please change my last name", "account", {}, "ACCOUNT-SUPPORT", "support_team"),
        ("my refill is delayed and I ran out of meds", "clinical", {}, "CLIN-URGENT-REFILL",
         "support_team"),
        ("I want to stop therapy but feel awkward telling my therapist", "clinical", {},
         "CLIN-END-CARE", "support_team"),
        ("can we talk about my treatment plan", "clinical", {}, "CLIN-PROVIDER", "provider"),
        ("my therapist never showed up for our session", "scheduling", {}, "SCHED-NO-SHOW",
         "support_team"),
        ("please move my weekly sessions to tuesdays", "scheduling", {}, "SCHED-RECURRING",
         "provider"),
        ("need to cancel", "scheduling", {"appointment_at": at(5), "emergency": True},
         "SCHED-LT24-EMERGENCY", "support_team"),
        ("need to cancel, my mom was rushed to the hospital", "scheduling",
         {"appointment_at": at(5)}, "SCHED-LT24-EMERGENCY", "support_team"),
        ("need to cancel, my mom was rushed to the hospital", "scheduling",
         {"appointment_at": at(5), "emergency": False}, "SCHED-LT24", "provider"),
        ("need to cancel, work emergency", "scheduling", {"appointment_at": at(5)}, "SCHED-LT24",
         "provider"),
        ("need to cancel", "scheduling", {"appointment_at": at(5)}, "SCHED-LT24", "provider"),
        ("need to cancel", "scheduling", {"appointment_at": at(30)}, "SCHED-GE24", "support_team"),
        ("I missed my session", "scheduling", {"appointment_at": at(-2)}, "SCHED-PAST", "provider"),
        ("I'd like to book a session", "scheduling", {}, "SCHED-UNKNOWN-TIME", "support_team"),
        ("I need to update my insurance", "billing", {}, "BILL-INSURANCE", "support_team"),
        ("why was I charged twice", "billing", {}, "BILL-PROVIDER-FIRST", "provider"),
    ],
)
def test_every_rule(text, category, fields, rule_id, route_to):
    decision = route(text, category, **fields)
    assert (decision.rule_id, decision.route) == (rule_id, route_to)
    assert decision.reason.endswith(".") and text not in decision.reason


def test_all_rule_ids_are_covered():
    covered = {row[3] for row in test_every_rule.pytestmark[0].args[1]}
    assert covered == set(RULE_IDS)


@pytest.mark.parametrize(
    ("hours", "rule_id"),
    [(24, "SCHED-GE24"), (23.99, "SCHED-LT24"), (0, "SCHED-LT24"), (-0.01, "SCHED-PAST"),
     (-48, "SCHED-PAST")],
)
def test_hour_boundaries(hours, rule_id):
    decision = route("cancel please", "scheduling", appointment_at=at(hours))
    assert decision.rule_id == rule_id
    assert decision.hours_until_appointment == hours
    assert decision.appointment_source == "field"


@pytest.mark.parametrize(("waited", "rule_id"), [(48, "ESCALATE-48H"), (47.99, "BILL-PROVIDER-FIRST")])
def test_wait_boundary(waited, rule_id):
    decision = route("why this fee", "billing", awaiting_provider_since=at(-waited))
    assert decision.rule_id == rule_id and decision.hours_awaiting_provider == waited


def test_escalation_only_when_route_would_be_provider():
    decision = route("please change my email", "account", awaiting_provider_since=at(-100))
    assert decision.rule_id == "ACCOUNT-SUPPORT"


def test_escalation_never_overrides_crisis():
    decision = route("I don't want to live anymore", "clinical", awaiting_provider_since=at(-100))
    assert decision.rule_id == "SAFETY-CRISIS" and decision.route == "provider"
    assert decision.safety_flag


def test_escalation_from_text():
    decision = route("question about my dose, I messaged her 3 days ago and no reply", "clinical")
    assert decision.rule_id == "ESCALATE-48H" and decision.hours_awaiting_provider == 72.0


def test_crisis_is_clinical_with_model_probabilities():
    decision = route("i've started cutting again", "billing")
    assert decision.category == "clinical"
    assert decision.confidence == decision.probabilities["clinical"]
    assert decision.probabilities["billing"] == 0.9
    assert decision.needs_review and "988" in decision.reason and "911" in decision.reason


@pytest.mark.parametrize(
    ("created", "expected"),
    [("2024-03-09T10:00:00", 23.0), ("2024-11-02T10:00:00", 25.0)],
)
def test_dst_from_text(created, expected):
    decision = decide(
        parse_ticket({"text": "cancel tomorrow at 10am", "created_at": created,
                      "timezone": "America/New_York"}),
        prediction("scheduling"),
    )
    assert decision.hours_until_appointment == expected
    assert decision.rule_id == ("SCHED-LT24" if expected < 24 else "SCHED-GE24")
    assert decision.appointment_source == "text"


def test_reason_names_the_hours_and_late_fee():
    decision = route("cancel please", "scheduling", appointment_at=at(5))
    assert "5.0 h" in decision.reason and "under 24 h" in decision.reason
    assert "late" in decision.reason and "client portal" in decision.reason


def test_locked_out_reason_points_to_contact_form():
    assert "Contact Us form" in route("account disabled", "technical").reason


@pytest.mark.parametrize(
    ("text", "category", "fields", "review"),
    [
        ("why this charge", "billing", {}, False),
        ("why this charge, also my account is locked", "billing", {}, True),  # conflict
        ("Hola, necesito cambiar mi cita para el martes", "scheduling", {}, True),  # non-English
        ("cancel my appointment tomorrow", "scheduling", {}, True),  # next day, no time
        ("cancel my appointment tomorrow at 3pm", "scheduling", {}, False),
    ],
)
def test_needs_review(text, category, fields, review):
    assert route(text, category, **fields).needs_review is review


def test_uncertain_prediction_needs_review():
    ticket = parse_ticket({"text": "why this charge", "created_at": CREATED.isoformat()})
    assert decide(ticket, prediction("billing", uncertain=True)).needs_review


def test_unknown_category_is_rejected():
    ticket = parse_ticket({"text": "x", "created_at": CREATED.isoformat()})
    with pytest.raises(ValueError):
        decide(ticket, Prediction("other", 1.0, {}, False, "m"))


def test_decision_and_ticket_field_order_matches_the_positional_constructors():
    """decide() and parse_ticket() build these positionally; a reordered field must fail here."""
    from dataclasses import fields

    from serving.decision import DECISION_COLUMNS, Decision
    from serving.tickets import Ticket

    names = [f.name for f in fields(Decision)]
    assert names == [
        "ticket_id", "category", "confidence", "probabilities", "route", "rule_id", "reason",
        "needs_review", "safety_flag", "hours_until_appointment", "appointment_source",
        "hours_awaiting_provider", "model_version",
    ]  # fmt: skip
    assert [c for c in DECISION_COLUMNS if not c.startswith("p_")] == [
        n for n in names if n != "probabilities"
    ]
    assert [f.name for f in fields(Ticket)] == [
        "text", "created_at", "ticket_id", "appointment_at", "awaiting_provider_since",
        "emergency", "timezone",
    ]  # fmt: skip
