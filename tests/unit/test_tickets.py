"""parse_ticket: fields, coercions and one error per bad field."""

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from serving.tickets import MAX_TEXT_CHARS, NOT_UNICODE, TicketError, echo_id, parse_ticket

NOW = datetime(2024, 3, 9, 15, 0, tzinfo=UTC)
SECRET = "my therapist Dr Q and my diagnosis"


def test_minimal_ticket_defaults_created_at_to_now():
    ticket = parse_ticket({"text": "  hello  "}, now=NOW)
    assert ticket.text == "hello"
    assert ticket.created_at == NOW
    assert ticket.ticket_id is None and ticket.emergency is None and ticket.timezone is None


def test_naive_timestamps_are_read_in_the_ticket_zone():
    ticket = parse_ticket(
        {"text": "x", "created_at": "2024-03-09T10:00:00", "timezone": "America/New_York"}
    )
    assert ticket.created_at.utcoffset().total_seconds() == -5 * 3600


def test_offsets_are_kept_and_z_is_utc():
    ticket = parse_ticket({"text": "x", "created_at": "2024-03-09T10:00:00Z",
                           "appointment_at": "2024-03-09T12:00:00+02:00"})
    assert ticket.created_at.utcoffset().total_seconds() == 0
    assert ticket.appointment_at.utcoffset().total_seconds() == 7200


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, "12"), (12.0, "12"), ("  A-7 ", "A-7"), (np.int64(3), "3")],
)
def test_ticket_id_is_coerced_to_str(value, expected):
    assert parse_ticket({"text": "x", "ticket_id": value}).ticket_id == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("FALSE", False), ("yes", True), ("No", False),
     ("1", True), ("0", False), (1, True), (0, False), (1.0, True), (np.bool_(True), True)],
)
def test_booleans_are_parsed_strictly(value, expected):
    assert parse_ticket({"text": "x", "emergency": value}).emergency is expected


@pytest.mark.parametrize("absent", [None, "", "   ", float("nan"), np.nan, pd.NA, pd.NaT])
def test_absent_optional_values(absent):
    ticket = parse_ticket(
        {"text": "x", "ticket_id": absent, "created_at": absent, "appointment_at": absent,
         "awaiting_provider_since": absent, "emergency": absent, "timezone": absent},
        now=NOW,
    )
    assert ticket.appointment_at is None and ticket.emergency is None and ticket.created_at == NOW


def test_pandas_timestamp_values():
    ticket = parse_ticket({"text": "x", "created_at": pd.Timestamp("2024-03-09 10:00"),
                           "appointment_at": pd.Timestamp("2024-03-10 10:00", tz="UTC")})
    assert type(ticket.created_at) is datetime and ticket.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "text"),
        ({"text": None}, "text"),
        ({"text": "   "}, "text"),
        ({"text": 42}, "text"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "text"),
        ({"text": "x", "created_at": "yesterday"}, "created_at"),
        ({"text": "x", "created_at": 1710000000}, "created_at"),
        ({"text": "x", "created_at": "0001-01-01T00:00:00"}, "created_at"),
        ({"text": "x", "appointment_at": "2024-13-01T10:00"}, "appointment_at"),
        ({"text": "x", "awaiting_provider_since": "soon"}, "awaiting_provider_since"),
        ({"text": "x", "emergency": "maybe"}, "emergency"),
        ({"text": "x", "emergency": 2}, "emergency"),
        ({"text": "x", "emergency": "y"}, "emergency"),
        ({"text": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"text": "x", "timezone": "../etc/passwd"}, "timezone"),
        ({"text": "x", "timezone": 5}, "timezone"),
    ],
)
def test_errors_name_the_field(raw, field):
    with pytest.raises(TicketError) as info:
        parse_ticket(raw)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_not_a_mapping():
    with pytest.raises(TicketError):
        parse_ticket(["text"])  # type: ignore[arg-type]


def test_text_at_the_limit_is_accepted():
    assert len(parse_ticket({"text": " " + "x" * MAX_TEXT_CHARS + " "}).text) == MAX_TEXT_CHARS


@pytest.mark.parametrize(
    "raw",
    [
        {"text": SECRET, "created_at": SECRET},
        {"text": SECRET, "timezone": SECRET},
        {"text": SECRET, "emergency": SECRET},
        {"text": SECRET, "appointment_at": SECRET + "2024"},
        {"text": SECRET * 700},
    ],
)
def test_error_messages_never_contain_the_text(raw):
    with pytest.raises(TicketError) as info:
        parse_ticket(raw)
    assert SECRET not in str(info.value)
    assert "therapist" not in str(info.value)


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA])
def test_missing_text_is_required_however_a_frame_spells_it(missing):
    with pytest.raises(TicketError) as error:
        parse_ticket({"text": missing})
    assert (error.value.field, error.value.problem) == ("text", "is required")


@pytest.mark.parametrize(
    "field", ["text", "ticket_id", "created_at", "appointment_at", "awaiting_provider_since", "emergency", "timezone"]
)
@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "\udc80"])
def test_a_lone_surrogate_is_refused_naming_the_field(field, surrogate):
    raw = {"text": "help me log in", field: f"{surrogate} help me log in"}
    with pytest.raises(TicketError) as info:
        parse_ticket(raw)
    assert (info.value.field, info.value.problem) == (field, NOT_UNICODE)


def test_a_json_surrogate_pair_is_one_valid_character():
    assert parse_ticket(json.loads('{"text": "\\ud83d\\ude00 thanks"}')).text == "\U0001f600 thanks"


@pytest.mark.parametrize("value", [{"subject": SECRET}, [SECRET], True, False, np.bool_(True), 1j])
def test_ticket_id_must_be_a_string_or_a_number(value):
    with pytest.raises(TicketError) as info:
        parse_ticket({"text": "x", "ticket_id": value})
    assert (info.value.field, info.value.problem) == ("ticket_id", "must be a string or a number")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("T-1", "T-1"), (7, "7"), (7.0, "7"), (None, None), ("  ", None), (float("nan"), None),
     ({"id": SECRET}, None), ([1], None), (True, None), ("\ud800", None), ("x" * 201, None), ("x" * 200, "x" * 200)],
)
def test_echo_id_gives_only_ids_that_cannot_be_text(value, expected):
    assert echo_id(value) == expected
