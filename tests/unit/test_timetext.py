"""Times in text, read per CONTRACT.md section 3.1."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.rules.timetext import elapsed_hours, find_appointment_time, find_wait_hours

NY = ZoneInfo("America/New_York")
# Wednesday 2024-05-15 10:00 in New York.
CREATED = datetime(2024, 5, 15, 10, 0, tzinfo=NY)


def hours(text, created=CREATED, zone=NY):
    found = find_appointment_time(text, created, zone)
    return None if found is None else (round(elapsed_hours(created, found.at), 2), found.needs_review)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can I cancel tomorrow at 3pm", (29.0, False)),
        ("my session today 5:30", (7.5, False)),  # bare 5 -> pm
        ("today at 9", (-1.0, False)),  # bare 9 -> am, already passed today
        ("tonight", (10.0, False)),
        ("this Thursday", (26.0, True)),  # next day, no time -> 12:00 + review
        ("next Monday at 10", (120.0, False)),  # bare 10 -> am; first Monday after today
        ("on Wednesday at 2pm", (172.0, False)),  # same weekday -> next week
        ("in 2 hours", (2.0, False)),
        ("in half an hour", (0.5, False)),
        ("Dec 3 at 2pm", (-3931.0, False)),  # nearest Dec 3 (past, 164 d) beats 202 d ahead
        ("Sep 3 at 2pm", (2668.0, False)),  # nearest Sep 3 is ahead
        ("Feb 3", (-2445.0, False)),  # nearest Feb 3 is in the past (EST -> EDT: one hour less)
        ("12/03", (-3933.0, False)),  # US month/day
        ("07/04", (1202.0, False)),
        ("at noon tomorrow", (26.0, False)),
        ("tomorrow at noon", (26.0, False)),
        ("Good afternoon, I need to cancel my session", None),  # a greeting is not a time
        ("my session is in the afternoon", None),  # a part of day alone names no day
        ("tomorrow", (26.0, True)),  # next day without time: could be either side of 24 h
        ("move my 4pm to 5pm", (6.0, False)),  # the existing appointment
        ("switch my friday session to monday", (50.0, False)),
        ("friday and saturday", (50.0, True)),  # unclear -> first + review
        ("friday or saturday works", (50.0, False)),  # "or saturday" is an alternative
        ("I missed my 9am", (-1.0, False)),
        ("3pm on Friday", (53.0, False)),
        ("appt on 3-dec at 4pm", (-3929.0, False)),  # dateparser fallback
        ("nothing about time here", None),
    ],
)
def test_appointment_times(text, expected):
    assert hours(text) == expected


def test_today_without_time_stays_same_day():
    late = datetime(2024, 5, 15, 22, 30, tzinfo=NY)
    value, review = hours("I can't make it today", created=late)
    assert 0 <= value < 24 and not review


@pytest.mark.parametrize(("day", "expected"), [(9, 23.0), (2, 25.0)])
def test_dst_gives_23_or_25_hours(day, expected):
    month = 3 if day == 9 else 11  # the day before the US spring / autumn change
    created = datetime(2024, month, day, 10, 0, tzinfo=NY)
    assert hours("tomorrow at 10am", created=created) == (expected, False)


def test_zone_falls_back_to_created_at_offset_then_utc():
    created = datetime(2024, 5, 15, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert hours("tomorrow at 10am", created=created, zone=None) == (24.0, False)
    created = datetime(2024, 5, 15, 10, 0, tzinfo=UTC)
    assert hours("today at 13:00", created=created, zone=None) == (3.0, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no reply for 3 days", 72.0),
        ("she hasn't answered for a week", 168.0),
        ("I messaged my therapist 2 days ago and no response", 48.0),
        ("I wrote her on Monday", 46.0),  # Monday 12:00 -> Wednesday 10:00
        ("waiting since Monday for an answer", 46.0),
        ("no response for a couple of days", 48.0),
        ("I've had a headache for a week", None),
        ("how do I reset my password", None),
    ],
)
def test_wait_hours(text, expected):
    assert find_wait_hours(text, CREATED, NY) == expected


def test_wait_span_hint_is_in_every_wait_span():
    """find_wait_hours skips texts without the hint, so every span form must contain it."""
    from serving.rules.timetext import _WAIT_SPAN, _WAIT_SPAN_HINT

    spans = [
        "3 days", "2 hrs", "a few wks", "several weeks ago", "5 hours now", "an hour",
        "since tues", "since last friday", "on weds", "on last thurs", "last sunday",
        "since yesterday", "since last week", "yesterday", "last week", "since dec 3",
        "since 12/3",
    ]  # fmt: skip
    for span in spans:
        match = _WAIT_SPAN.search(span)
        assert match is not None, span
        assert _WAIT_SPAN_HINT.search(match.group()) is not None, span


def test_prepared_words_keep_every_anchor_word():
    """prepare_text drops words no detector anchors on; no anchor word may be dropped."""
    import serving.rules.crisis  # noqa: F401 - registers its anchors
    import serving.rules.signals  # noqa: F401
    from serving.rules.textprep import _ANCHORS, prepare_text

    words = sorted(_ANCHORS)
    text = " ".join(word.decode() for word in words)
    assert prepare_text(text).words == set(words)
    assert prepare_text("Tomorrow's session, (suicidal) dec. 3").words >= {
        b"tomorrow", b"suicidal", b"dec"
    }


# Pieces of time phrases and the characters around them, so random texts are full of near-misses.
_PIECES = [
    "today", "tonight", "tomorrow", "tmrw", "this", "next", "last", "on", "in", "at", "@", "noon",
    "afternoon", "midnight", "monday", "fri", "dec", "may", "3", "12", "2024", "-", "/", ":", ".",
    "pm", "am", "a.m.", "o'clock", "hours", "days", "the", "of", "st", "'s", " ", " ", ",", "é", "x",
]


@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
@settings(max_examples=3000, deadline=None)
def test_the_start_check_does_not_change_what_the_scan_finds(text):
    import re

    from serving.rules import timetext

    plain = re.compile(timetext._TOKEN_BODY)
    expected = [(m.span(), m.groupdict()) for m in plain.finditer(text)]
    assert [(m.span(), m.groupdict()) for m in timetext._TOKEN.finditer(text)] == expected
