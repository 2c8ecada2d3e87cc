"""Property-based checks: determinism, totality, and errors are always TicketError."""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.decision import CATEGORIES, ROUTES, RULE_IDS, Prediction
from serving.rules.routing import decide
from serving.tickets import TicketError, parse_ticket

ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
WORDS = ["cancel", "tomorrow", "at", "3pm", "my", "session", "refill", "locked", "insurance",
         "no reply for 3 days", "I want to die", "not suicidal", "12/03", "Dec 3", "tonight",
         "next Monday at 10", "in 2 hours", "hospital", "weekly", "never showed", "¿qué?", "\n"]

stamps = st.datetimes(
    min_value=datetime(1901, 1, 1), max_value=datetime(2198, 12, 31),
    timezones=st.sampled_from([UTC, None]),
)
texts = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join).filter(lambda t: t.strip()),
    st.text(min_size=1, max_size=200).filter(lambda t: t.strip()),
)


def iso(value):
    return value.isoformat()


valid_tickets = st.fixed_dictionaries(
    {"text": texts},
    optional={
        "ticket_id": st.one_of(st.integers(), st.text(max_size=10)),
        "created_at": stamps.map(iso),
        "appointment_at": stamps.map(iso),
        "awaiting_provider_since": stamps.map(iso),
        "emergency": st.sampled_from([True, False, "yes", "no", "1", "0", None, ""]),
        "timezone": st.sampled_from(ZONES + [None, ""]),
    },
)


@st.composite
def predictions(draw):
    category = draw(st.sampled_from(CATEGORIES))
    weights = draw(st.lists(st.floats(0.01, 1), min_size=5, max_size=5))
    total = sum(weights)
    probabilities = {c: w / total for c, w in zip(CATEGORIES, weights, strict=True)}
    return Prediction(category, probabilities[category], probabilities, draw(st.booleans()), "p")


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)


@FAST
@given(valid_tickets, predictions())
def test_valid_ticket_gets_one_route_deterministically(raw, prediction):
    first = decide(parse_ticket(raw, now=NOW), prediction)
    second = decide(parse_ticket(dict(raw), now=NOW), prediction)
    assert first == second
    assert first.route in ROUTES and first.rule_id in RULE_IDS
    assert first.category in CATEGORIES
    assert first.safety_flag == (first.rule_id == "SAFETY-CRISIS")


bad_values = st.one_of(
    st.text(max_size=30), st.integers(), st.floats(), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.datetimes(timezones=st.just(UTC)) | st.datetimes(),
)
any_tickets = st.dictionaries(
    st.sampled_from(["text", "ticket_id", "created_at", "appointment_at", "awaiting_provider_since",
                     "emergency", "timezone", "other"]),
    bad_values, max_size=7,
)


@FAST
@given(any_tickets)
def test_any_input_parses_or_raises_ticket_error(raw):
    try:
        ticket = parse_ticket(raw, now=NOW)
    except TicketError as error:
        assert error.field
        text = raw.get("text")
        if isinstance(text, str) and len(text.strip()) > 3:
            assert text.strip() not in str(error)
        return
    decision = decide(ticket, Prediction("scheduling", 1.0, {c: 0.2 for c in CATEGORIES}, False, "p"))
    assert decision.rule_id in RULE_IDS


@FAST
@given(stamps, st.sampled_from(ZONES), st.integers(-10_000, 10_000))
def test_appointment_hours_are_elapsed_time(created, zone, minutes):
    start = created.replace(tzinfo=UTC)
    raw = {"text": "cancel", "created_at": start.isoformat(),
           "appointment_at": (start + timedelta(minutes=minutes)).isoformat(), "timezone": zone}
    decision = decide(parse_ticket(raw), Prediction("scheduling", 1.0, {}, False, "p"))
    assert decision.hours_until_appointment == round(minutes / 60, 2)
