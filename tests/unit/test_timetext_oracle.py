"""Generator-oracle tests for the time reader (CONTRACT.md section 3.1).

A target time is drawn relative to a drawn ``created_at`` and client zone, rendered in one of many
surface forms inside a ticket sentence, and the reader must return exactly that target. Each form
is rendered only where the contract gives it one reading: a bare clock only where the 1-7 pm /
8-11 am rule (or a part of day beside it) gives the target, a weekday only for the 7 days after
``created_at``'s day, a month and day without a year only within 150 days, a clock alone only for a
time later today. Then a differential check: on unambiguous phrases (a full date with year and a
clock with am/pm) the reader and dateparser must agree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import dateparser
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from serving.rules.timetext import find_appointment_time

# Zones with DST on both hemispheres, a 30-minute DST shift, a half-hour offset and none at all.
ZONES = [
    "America/New_York", "America/Los_Angeles", "Europe/London", "Australia/Sydney",
    "Australia/Lord_Howe", "Asia/Kolkata", "America/Phoenix", "UTC",
]  # fmt: skip
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
MONTH_ABBREVIATIONS = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec",
]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Sentences that talk about an appointment, with room for the time phrase.
TEMPLATES = [
    "cancel my session {}",
    "Can we move my appointment {}?",
    "Hi! I need to reschedule my session {}, thanks.",
    "I can't make my appointment {} - so sorry!!",
    "Please cancel my appointment ({}). My daughter is sick.",
    "hello,\nmy session is {}\ncan I cancel it",
    "Dr. Lee, I have to cancel my appointment {}. Thank you.",
    "URGENT: cancel {} session",
    "May I cancel my session {}? Work came up...",
]

SETTINGS = settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _local(day: date, hour: int, minute: int, zone) -> datetime | None:
    """The wall time in ``zone``, or None when it does not exist (a spring-forward gap)."""
    at = datetime.combine(day, time(hour, minute), tzinfo=zone)
    if at.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != at.replace(tzinfo=None):
        return None
    return at


@st.composite
def created_and_zone(draw):
    """A ``created_at`` (aware, UTC) and the zone text times are read in."""
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    local = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)))
    created = local.replace(second=0, microsecond=0, tzinfo=zone).astimezone(UTC)
    return created, zone


SPELLED = dict(enumerate("zero one two three four five six seven eight nine ten eleven twelve".split()))


@st.composite
def clock_forms(draw, hour: int, minute: int, part: str | None):
    """Ways to write a clock that read as ``hour:minute`` (beside ``part``, if any)."""
    forms = []
    h12 = hour % 12 or 12
    mm = f":{minute:02d}" if minute else draw(st.sampled_from(["", ":00"]))
    ap = "am" if hour < 12 else "pm"
    for spelled in (ap, ap.upper(), f" {ap}", f" {ap.upper()}", f" {ap[0]}.m.", f"{ap[0]}.m."):
        forms.append(f"{h12}{mm}{spelled}")
    if minute == 0 and hour == 12:
        forms += ["noon", "12 noon", "midday"]
    if minute == 0 and hour == 0:
        forms += ["12am", "12 a.m."]
    # Bare clocks: only where the contract's rule (or the part of day) gives this hour.
    if part is None:
        bare = (13 <= hour <= 19) or (8 <= hour <= 11) or hour == 12
    elif part == "morning":
        bare = 1 <= hour <= 11
    elif part == "afternoon":
        bare = 12 <= hour <= 23
    else:  # evening, night
        bare = 13 <= hour <= 23
    if bare:
        forms.append(f"{h12}:{minute:02d}")
        forms.append(f"at {h12}" + (f":{minute:02d}" if minute else ""))
        if minute == 0:
            forms += [f"{h12} o'clock", f"at {h12} o'clock"]
    if hour >= 13 or hour == 0:
        forms.append(f"{hour:02d}:{minute:02d}")  # 24-hour clock
    if minute in (15, 30, 45):  # "quarter past 4", "half past two", "quarter to 5", "half 9"
        written = (hour + 1) % 12 or 12 if minute == 45 else h12
        word = draw(st.sampled_from([str(written), SPELLED[written]]))
        said = {15: [f"quarter past {word}", f"quarter after {word}"], 30: [f"half past {word}"],
                45: [f"quarter to {word}"]}[minute]  # fmt: skip
        forms += [f"{s} {ap}" for s in said]
        if bare:
            forms += said + ([f"half {word}"] if minute == 30 else [])
    form = draw(st.sampled_from(forms))
    if not form.startswith("at ") and draw(st.booleans()):
        form = draw(st.sampled_from(["at ", "@ ", "at "])) + form
    return form


@st.composite
def day_forms(draw, base: date, target: date):
    """Ways to name ``target`` relative to ``base`` that the contract reads as exactly that day."""
    offset = (target - base).days
    forms = []
    if offset == 0:
        forms += ["today"]
    if offset == 1:
        forms += ["tomorrow", "tmrw"]
    if offset == 2:
        forms += ["the day after tomorrow", "day after tomorrow"]
    if abs(offset) <= 13:  # a day of the month alone is the nearest such day
        forms += [f"the {_ordinal(target.day)}", f"on the {_ordinal(target.day)}"]
    if 1 <= offset <= 7:
        name = WEEKDAYS[target.weekday()]
        forms += [name, f"on {name}", f"next {name}", f"this {name}", f"coming {name}",
                  name.lower(), f"{name}, {MONTHS[target.month - 1]} {target.day}"]  # fmt: skip
    month, abbreviation = MONTHS[target.month - 1], MONTH_ABBREVIATIONS[target.month - 1]
    year = target.year
    # With a year every written date is exact; without one, only within 150 days (nearest).
    dated = [
        f"{month} {target.day}, {year}", f"{abbreviation} {_ordinal(target.day)} {year}",
        f"{target.day} {month} {year}", f"{_ordinal(target.day)} of {month}, {year}",
        f"{target.month}/{target.day}/{year}",
        f"{target.month:02d}/{target.day:02d}/{year % 100:02d}",
        f"{target.isoformat()}",
    ]  # fmt: skip
    forms += dated
    if abs(offset) <= 150:
        forms += [
            f"{month} {target.day}", f"{abbreviation} {target.day}",
            f"{abbreviation}. {target.day}",
            f"{month} {_ordinal(target.day)}", f"{month} the {_ordinal(target.day)}",
            f"{target.day} {month}", f"{_ordinal(target.day)} {abbreviation}",
            f"the {_ordinal(target.day)} of {month}", f"{target.month}/{target.day}",
            f"on {month} {target.day}",
        ]  # fmt: skip
    return draw(st.sampled_from(forms))


def _casing(draw, text: str) -> str:
    return draw(st.sampled_from([text, text.upper(), text.title(), text.lower()]))


@st.composite
def rendered(draw):
    """(text, created_at, zone, target, needs_review or None when either is fine)."""
    created, zone = draw(created_and_zone())
    local_now = created.astimezone(zone)
    base = local_now.date()
    kind = draw(st.sampled_from(["day+clock", "clock+day", "part", "clock alone", "day alone",
                                 "midnight", "offset"]))  # fmt: skip
    review: bool | None = False
    if kind == "offset":
        unit = draw(st.sampled_from(["minutes", "hours", "days", "weeks"]))
        amount = draw(st.integers(1, 12 if unit != "minutes" else 59))
        words = {1: draw(st.sampled_from(["1", "one", "a" if unit != "hours" else "an"]))}
        written = words.get(amount, str(amount))
        label = unit[:-1] if amount == 1 else unit
        phrase = f"in {written} {label}"
        if unit in ("days", "weeks"):
            days = amount * (7 if unit == "weeks" else 1)
            local = local_now.replace(tzinfo=None) + timedelta(days=days)
            target = _local(local.date(), local.hour, local.minute, zone)
        else:
            target = created + timedelta(**{unit: amount})
    elif kind == "midnight":
        offset = draw(st.integers(0, 6))
        day = base + timedelta(days=offset)
        name = {0: "tonight", 1: "tomorrow"}.get(offset, WEEKDAYS[day.weekday()])
        phrase = draw(st.sampled_from([f"{name} at midnight", f"at midnight {name}",
                                       f"{name} at 12 midnight"]))  # fmt: skip
        if offset == 0:
            phrase = draw(st.sampled_from(["tonight at midnight", "at midnight tonight"]))
        target = _local(day + timedelta(days=1), 0, 0, zone)
    elif kind == "part":
        offset = draw(st.integers(0, 7))
        part = draw(st.sampled_from(["morning", "afternoon", "evening", "night"]))
        hours = {"morning": (1, 11), "afternoon": (12, 17), "evening": (17, 23), "night": (18, 23)}
        hour = draw(st.integers(*hours[part]))
        minute = draw(st.sampled_from([0, 15, 30, 45, draw(st.integers(0, 59))]))
        day = base + timedelta(days=offset)
        clock = draw(clock_forms(hour, minute, part)).removeprefix("at ").removeprefix("@ ")
        if offset == 0:
            names = ["tonight"] if part == "night" else [f"this {part}"]
        elif offset == 1:
            names = [f"tomorrow {part}"]
        else:
            names = [f"{WEEKDAYS[day.weekday()]} {part}"]
        bare = re.fullmatch(r"\d{1,2}(?::\d\d)?", clock) is not None
        if bare and part != "night" and draw(st.booleans()):  # "7:30 in the morning tomorrow"
            when = ("today" if offset == 0 else "tomorrow" if offset == 1
                    else f"on {WEEKDAYS[day.weekday()]}")  # fmt: skip
            phrase = f"at {clock} in the {part} {when}"
        else:
            name = draw(st.sampled_from(names))
            forms = [f"{name} at {clock}", f"at {clock} {name}"]
            if not clock.isdigit() or offset <= 1:  # "8 tonight", "7 tomorrow morning"
                forms.append(f"{clock} {name}")
            phrase = draw(st.sampled_from(forms))
        target = _local(day, hour, minute, zone)
    else:
        hour = draw(st.integers(0, 23))
        minute = draw(st.sampled_from([0, 15, 30, 45, draw(st.integers(0, 59))]))
        if kind == "clock alone":
            day = base
            target = _local(day, hour, minute, zone)
            assume(target is not None and target > created)
            phrase = draw(clock_forms(hour, minute, None))
        elif kind == "day alone":
            offset = draw(st.integers(1, 400)) * draw(st.sampled_from([1, -1]))
            day = base + timedelta(days=offset)
            target = _local(day, 12, 0, zone)
            phrase = draw(day_forms(base, day))
            review = offset == 1
        else:
            offset = draw(st.integers(-400, 400))
            day = base + timedelta(days=offset)
            target = _local(day, hour, minute, zone)
            named = draw(day_forms(base, day))
            clock = draw(clock_forms(hour, minute, None))
            if kind == "day+clock":
                joiner = draw(st.sampled_from([" at ", " ", ", ", " @ ", " around "]))
                core = clock.removeprefix("at ").removeprefix("@ ")
                if core.isdigit():  # a bare number needs its "at" ("today at 8", not "today 8")
                    core = clock if clock != core else f"at {core}"
                    joiner = " " if joiner in (" at ", " @ ") else joiner
                phrase = f"{named}{joiner}{core}"
            else:
                joiner = draw(st.sampled_from([" ", " on ", ", "]))
                if named.startswith("on "):
                    joiner = " "
                phrase = f"{clock}{joiner}{named}"
    assume(target is not None)
    text = draw(st.sampled_from(TEMPLATES)).format(_casing(draw, phrase))
    return text, created, zone, target, review


@SETTINGS
@given(rendered())
def test_reader_returns_the_rendered_target(case):
    text, created, zone, target, review = case
    found = find_appointment_time(text, created, zone)
    assert found is not None, text
    assert found.at.timestamp() == target.timestamp(), (text, found.at, target)
    wall = found.at.astimezone(zone).replace(tzinfo=None)
    assert wall == target.astimezone(zone).replace(tzinfo=None), text
    if review is not None:
        assert found.needs_review is review, text


@settings(max_examples=300, deadline=None)
@given(rendered())
def test_zone_from_created_at_offset_when_no_timezone(case):
    """With no ``timezone`` the offset of ``created_at`` is the zone (a fixed offset: no DST)."""
    text, created, zone, target, review = case
    offset = created.astimezone(zone).utcoffset()
    fixed = timezone(offset)
    local_target = target.astimezone(zone).replace(tzinfo=None)
    # Same wall-clock reading in the fixed offset, unless the zone's offset changes in between.
    assume(target.utcoffset() == offset)
    found = find_appointment_time(text, created.astimezone(fixed), None)
    assert found is not None, text
    assert found.at.astimezone(fixed).replace(tzinfo=None) == local_target, text


@st.composite
def unambiguous(draw):
    """A full date with a year and a clock with am/pm, in forms dateparser also reads."""
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)))
    hour = draw(st.integers(0, 23))
    minute = draw(st.integers(0, 59))
    h12, ap = hour % 12 or 12, ("am" if hour < 12 else "pm")
    clock = draw(st.sampled_from([
        f"{h12}:{minute:02d} {ap}", f"{h12}:{minute:02d}{ap}", f"{h12}:{minute:02d} {ap.upper()}",
        f"{h12}:{minute:02d} {ap[0]}.m.",
    ]))  # fmt: skip
    month, abbreviation = MONTHS[day.month - 1], MONTH_ABBREVIATIONS[day.month - 1]
    dated = draw(st.sampled_from([
        f"{month} {day.day}, {day.year}", f"{day.day} {month} {day.year}",
        f"{abbreviation} {day.day} {day.year}", f"{month} {_ordinal(day.day)}, {day.year}",
        f"{_ordinal(day.day)} of {month} {day.year}", day.isoformat(),
    ]))  # fmt: skip
    joiner = draw(st.sampled_from([" at ", " ", ", "]))
    return f"{dated}{joiner}{clock}", datetime.combine(day, time(hour, minute))


@settings(max_examples=200, deadline=None)
@given(unambiguous(), created_and_zone())
def test_reader_agrees_with_dateparser_on_unambiguous_phrases(phrase_and_wall, created_zone):
    phrase, wall = phrase_and_wall
    created, zone = created_zone
    local_now = created.astimezone(zone).replace(tzinfo=None)
    theirs = dateparser.parse(phrase, languages=["en"], settings={"RELATIVE_BASE": local_now})
    found = find_appointment_time(f"please cancel my session on {phrase}", created, zone)
    assert found is not None, phrase
    ours = found.at.astimezone(zone).replace(tzinfo=None)
    if _local(wall.date(), wall.hour, wall.minute, zone) is None:
        return  # a wall time in a DST gap: no instant to agree on
    assert theirs == ours == wall, phrase
