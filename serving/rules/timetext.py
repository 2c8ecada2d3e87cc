"""Times written in ticket text: the appointment time and how long the client has waited.

CONTRACT.md section 3.1 fixes the reading: times are in the client's zone (``timezone``, else the
offset of ``created_at``, else UTC); hours are elapsed (a UTC difference, so a daylight-saving
change gives 23 or 25 h); a weekday is its first occurrence after ``created_at``'s day; a month
and day without a year is the nearest such date; a bare clock 1-7 is pm, 8-11 am, 12 noon; a date
without a time is 12:00, except today/tonight (later the same day); an unknown time on the next
day sets ``needs_review``; of several times the first referring to an existing appointment wins.

Choices where the contract is silent: an explicit am/pm always wins, and so does a part of day
written beside a bare clock ("at 8 tonight" is 20:00, "7:30 tomorrow morning" is 07:30), so the
1-7/8-11 rule only decides clocks that state nothing else; a bare number is a clock only when
something marks it ("at 8", "8:00", "8 o'clock", "8 tonight"). "Midnight" is the end of the day it
is attached to ("Friday at midnight" is Saturday 00:00), "12am" its start. "In 3 days" and "3 days
ago" keep the clock time of ``created_at`` (calendar days in the client's zone); "in 2 hours" is
elapsed time. A time counts as the appointment's only where the ticket talks about an appointment:
the phrase sits in a sentence with an appointment word ("session", "cancel", "reschedule", "my
9am"...), or, when no phrase does, it is a clock from today on or a time ahead ("in 2 hours"). A
time that dates a message ("I wrote her 3 days ago") or waking, living or dying never counts. So
"better off not waking up tomorrow", "my last dose was this morning" and "I'm up at 3 every night"
are not appointments. Plural and habitual weekdays ("Mondays", "every other Friday") are a
recurring series, not a date.

Why hand-written regexes and not dateparser for everything: dateparser costs about 1 ms per call
(measured: 0.85-1.3 ms for "Dec 3", "12/03"), which alone would cap batch scoring near 1,000
tickets/s, and it knows none of the contract's rules (nearest date without a year, bare-clock
am/pm, first weekday after today, "move my 4pm to 5pm"), so its answers would need re-deriving
anyway. The common patterns are a handful of compiled regexes resolved with ``datetime``.
dateparser stays as a fallback for month-name phrasings the regexes do not cover ("December the
third"): a cheap regex sees a month name with no date found, and only then is dateparser called.
Texts with no digit and no time word are rejected by a word-set lookup (``serving.rules.textprep``)
before any regex runs.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from serving.rules.textprep import PreparedText, anchor_words, prepare_text

# Words that can start a time phrase; a ticket with none of them and no digit has no time.
_TIME_WORDS = anchor_words(
    "today tonight tomorrow tomorows tomorow tommorow tommorrow tmrw tmr yesterday noon midday "
    "midnight morning afternoon evening night monday tuesday tues wednesday weds thursday thurs "
    "friday saturday sunday mondays tuesdays wednesdays thursdays fridays saturdays sundays "
    "jan january feb february mar march apr april may jun june jul july aug august sep sept "
    "september oct october nov november dec december hour hours hr hrs day days week weeks "
    "minute minutes min mins half quarter"
)

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a couple of": 2, "a couple": 2, "couple of": 2, "couple": 2, "a few": 3, "few": 3,
    "several": 3, "half an": 0.5, "half a": 0.5,
}  # fmt: skip
_NUM = r"(?:\d{1,3}|a couple(?: of)?|couple(?: of)?|a few|few|several|half an?|an?|one|two|" \
    r"three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_WEEKDAY = r"(?:monday|tuesday|tues|wednesday|weds|thursday|thurs|friday|saturday|sunday)"
_PART = r"(?:morning|afternoon|evening|night)"
_PART_HOURS = {"morning": 9, "afternoon": 15, "evening": 18, "night": 20}
_OFFSET_UNIT = r"(?:hours?|hrs?|minutes?|mins?|days?|weeks?|wks?)"

# Date phrases (named groups tell the kinds apart). A weekday must end its word: "Mondays" is a
# recurring day, not a date.
_DATE = (
    r"(?P<after>(?:the\s+)?day\s+after\s+(?:tomorrow|tmrw))(?:'s)?"
    r"|(?P<rel>today|tonight|tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|yesterday|last night)"
    rf"(?:'s)?(?:\s+(?P<relpart>{_PART})(?:'s)?)?"
    r"|(?P<thispart>this\s+(?:morning|afternoon|evening))(?:'s)?"
    rf"|(?:(?P<wdmod>this|next|last|coming|on)\s+)?(?P<wd>{_WEEKDAY})\b"
    rf"(?:'s)?(?:\s+(?P<wdpart>{_PART})(?:'s)?)?"
    rf"|(?P<mon>{_MONTH})\.?\s+(?:the\s+)?(?P<mday>\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(?P<myear>\d{4})\b)?"
    rf"|(?P<dday>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dmon>{_MONTH})\b"
    r"(?:,?\s+(?P<dyear>\d{4})\b)?"
    r"|(?P<iso>(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2}))"
    rf"|the\s+(?P<oday>\d{{1,2}})(?:st|nd|rd|th)\b(?!\s+(?:of\s+)?{_MONTH}\b)"  # "the 14th", not "the 14th of May"
    r"|(?<![\d/.])(?P<nm>\d{1,2})/(?P<nd>\d{1,2})(?:/(?P<ny>\d{4}|\d{2}))?(?![\d/]|\s*(?:of|hours?|hrs?)\b)"
    rf"|\bin\s+(?P<innum>{_NUM})\s+(?P<inunit>{_OFFSET_UNIT})\b(?!\s+ago)"
)
# "3 days ago", "2 hours from now": scanned apart, only in texts with "ago" or "from now", because
# a phrase that can start at any number word ("a", "an", "one") costs the main scan a try at
# every word.
_AGO = re.compile(
    rf"(?<![\w-])(?P<num>{_NUM})\s+(?P<unit>{_OFFSET_UNIT})\s+(?P<dir>ago|from now)\b"
)
# Clock phrases. One pattern reads every written clock, so "at 9pm" is one phrase whose "pm" is
# read (two alternatives, "at 9" and "9pm", once let the earlier-starting "at 9" win). A bare
# number matches too and is dropped by ``_clock`` unless something marks it as a clock: "at" or
# "@" before it, minutes, am/pm, "o'clock", "noon", a part of day, or a day word right after it
# ("8 tonight", "my 11 on Friday").
_CLOCK = (
    r"(?:(?P<at>\bat|@)\s*)?"
    r"(?<![\d:/.])(?P<ch>\d{1,2})(?:(?P<sep>[:.])(?P<cm>\d{2}))?(?![\d:/]|\.\d)"
    r"(?:\s*(?P<mer>[ap])\.?\s?m(?![a-z])\.?|\s*(?P<och>o'?clock)|\s*(?P<cnoon>noon|midnight)\b"
    rf"|\s+(?:in\s+the|at)\s+(?P<cpart>{_PART})\b)?"
    r"|(?<![a-z])(?P<noon>noon|midday|midnight)"  # not the "noon" of "good afternoon"
    # "half past two", "quarter to 5", "half 9" (half past, as said in Britain and Ireland)
    r"|(?:(?:\bat|@)\s*)?(?<![a-z])(?P<qq>half|quarter)\s+(?:(?P<qdir>past|after|to)\s+)?"
    r"(?P<qh>1[0-2]|[1-9]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?![\w:]|\.\d)"
    rf"(?:\s*(?P<qmer>[ap])\.?\s?m(?![a-z])\.?|\s+(?:in\s+the|at)\s+(?P<qpart>{_PART})\b)?"
)
_TOKEN_BODY = rf"\b(?:{_DATE})|(?:{_CLOCK})"
# Every phrase starts with a digit, "@" or a letter that follows no other letter (a word start, or
# "noon" after a digit). Checking that first costs one step per position, where trying the
# alternatives costs several, so the scan runs about 2.5 times faster and finds the same matches.
_TOKEN_START = r"(?=[\d@]|(?<![a-z])[a-z])"
_TOKEN = re.compile(rf"{_TOKEN_START}(?:{_TOKEN_BODY})")
# A day word right after a bare number makes it a clock ("8 tonight"); after "my N" also "on
# Friday", "next week" ("my 11 on Friday").
_DAY_AFTER = re.compile(
    r"\s+(?:today|tonight|tomorrow|tmrw|this\s+(?:morning|afternoon|evening))\b"
)
_MY_DAY_AFTER = re.compile(rf"\s+(?:on|this|next|{_WEEKDAY})\b")
# "at 3" that is not a clock ("at 3 hours", "at 3%", "at 3.5").
_AT_NOT_CLOCK = re.compile(
    r"\.\d|\s*(?:%|percent|hours?|hrs?|days?|minutes?|mins?|weeks?|months?|years?|people|times|"
    r"mg)\b"
)
# What may sit between a date and its clock ("tomorrow at 3pm", "my Jan 3 appointment at 10am",
# "earlier today, the 3:30 one") and between a clock and its date ("3pm on Friday", "my 8:00 am
# slot today").
_SLOT_NOUN = r"(?:appointment|appt|session|slot|call|visit|one)"
_DATE_CLOCK_GAP = re.compile(
    rf"\s*[,(?-]?\s*(?:{_SLOT_NOUN}\s*)?(?:(?:,|at|@|by|around|from|for|starting at)\s*)?"
    r"(?:the\s+)?"
)
_CLOCK_DATE_GAP = re.compile(rf"\s*(?:{_SLOT_NOUN}\s+)?(?:,|on|this|next)?\s*(?:the\s+)?")
_WEEKDAY_DATE_GAP = re.compile(r"\s*,?\s*(?:the\s+)?")
# "every Friday", "weekly Monday sessions", "every-other-friday", "at 3 every night": habitual.
_HABITUAL_WORDS = anchor_words("every each other weekly usual regular normal")
_HABITUAL_BEFORE = re.compile(r"(?:every|each|other|weekly|usual|regular|normal)[\s-]+$")
_HABITUAL_AFTER = re.compile(r"\s+(?:every|each)\b")
# Words that say a sentence is about an appointment. A time in any other sentence ("my last dose
# was this morning", "better off not waking up tomorrow") is not the appointment's time.
# One \b shared by a group instead of one per alternative: Python's ``re`` skips an alternative
# that starts with a literal after a single comparison but must fully try one that starts with
# \b, so this form runs several times faster. Searched only in sentences that hold a time.
_APPOINTMENT_CUE = re.compile(
    r"\b(?:(?:appointments?|appts?|sessions?|visits?|slots?|booking|booked|book|consult\w*|"
    r"(?:video|phone|our|my|the) call|cancel\w*|reschedul\w*|re-?book\w*|schedul\w*|"
    r"mov(?:e|ing|ed)(?! (?:my |the |your )?(?:dose|doses|dosage|meds|medication|pills?)\b)|"
    r"push(?:ed)? (?:back|it)|postpon\w*|make it|can'?t make|cannot make|attend\w*|"
    r"come in|be there|show(?:ed)? up|no[- ]?show\w*|join\w*|log(?:ged)? (?:on|in)|calendar|"
    r"available|availability|instead|(?:another|a new|a different|other) time|"
    r"(?:can|could) (?:i|we) do|can'?t do (?=\d|at\b|to(?:day|night|morrow)|this|next|\w+day\b))\b|"
    # "my 9am", "our 4pm", "my 11 tomorrow": a clock owned by the client is an appointment
    r"(?:my|our) \d{1,2}(?::\d{2})?(?:\s*(?:[ap]\.?m\b|o'?clock)|\s+(?:today|tonight|tomorrow|"
    r"this|next|on)\b))"
)
# A time that dates something else: a message right before it ("I wrote to my therapist 6 days
# ago", which is the wait reader's business), or waking, living or dying ("better off not waking up
# tomorrow": a crisis phrase is never an appointment). A message asking to cancel or move something
# dates that, not itself ("I asked Dr. Cho to cancel tonight's 7pm session").
_MESSAGE_VERB = (
    r"(?:wrote|written|messaged|emailed|e-mailed|texted|sent|send|contacted|asked|asking|messaging|emailing|"
    r"texting|queried|called|pinged|"
    r"reached out(?: to)?|left(?: (?:a|her|him|them) (?:message|voicemail))?|"
    r"(?:trying|tried|try) to (?:reach|contact|get (?:a )?hold of|get in touch with))"
)
_DATES_OTHER_WORDS = anchor_words(
    "wrote written messaged emailed mailed texted sent send contacted asked asking messaging emailing texting "
    "queried called pinged reached left trying tried try wake waking woke here alive around live die dying dead gone through survive"
)
_DATES_OTHER = re.compile(
    rf"\b(?:{_MESSAGE_VERB}\b(?:\s+(?!cancel|resched|move|push|swap|change)[\w.']+){{0,4}}\s*|"
    r"(?:wak(?:e|ing)(?: up)?|woke(?: up)?|be (?:here|alive|around)|live(?: to see)?|die|"
    r"dying|dead|gone|make it through|get through|survive)\s+(?:by\s+|until\s+|past\s+)?)$"
)
# Where a sentence ends. A dot does not end one after an abbreviation ("Dr. Patel", "St. Mary's",
# "Mar. 7"), inside "a.m."/"p.m." or between digits ("3.5"). The dot comes first and the checks
# look back from it, so they run only at dots.
_ABBREVIATIONS = (
    "dr drs mr mrs ms mx prof st jr sr vs etc approx appt jan feb mar apr jun jul aug sep sept "
    "oct nov dec mon tue tues wed thu thur thurs fri sat sun a p a.m p.m"
).split()
_SENTENCE_END = re.compile(
    r"[!?\n;]|\.(?!\d)" + "".join(rf"(?<!\b{re.escape(a)}\.)" for a in _ABBREVIATIONS)
)
# Words that mark a time as the appointment the ticket is about...
_EXISTING_BEFORE = re.compile(
    r"(?:\bmy|\bour|appointment|\bappt|session|scheduled|booked|\bmissed|\bmiss|cancel\w*|"
    r"reschedul\w*|\bmove|\bpush|instead of|rather than|"
    r"\bfrom|\bhave|\bhad|\bcurrent(?:ly)?|\bfor|\bis|\bwas)\s*(?:\w+\s*){0,2}$"
)
_EXISTING_AFTER = re.compile(r"(?:'s)?\s*(?:appointment|appt|session|therapy|visit|call|slot)")
# ...and words that mark it as a new or proposed time, or a time the client wrote to the provider.
# "to" counts only right before the time ("move my 4pm to 5pm"), not in "I need to cancel Friday".
_TARGET_BEFORE = re.compile(
    r"(?:\b(?:to|until|till|or)\s+(?:the\s+|a\s+)?"
    r"|(?:\binstead(?! of)|\bnew|\bavailable|\bopen(?:ing)?|\bfree|\bswitch(?: it)? to|"
    r"\bbook(?: me)?(?: for| in)?|\bsince)\s*(?:\w+\s*){0,1})$"
)
_TARGET_AFTER = re.compile(r"\s*,?\s*instead\b")
_PAST_CUE = re.compile(
    r"\bmissed\b|\bwas\b|\bwere\b|\bdidn'?t\b|\bdid not\b|\bearlier\b|\bago\b|no[- ]show|"
    r"never (?:showed|joined|came)|\bcharged\b|\bwaited\b|already left|"
    r"(?:nobody|no one|no-one) (?:came|showed|joined|turned up)"
)
_MONTH_WORD = re.compile(rf"\b{_MONTH}\b(?!\s+(?:i|we|you|he|she|they|be|have)\b)")
_UNIT_HOURS = {"h": 1.0, "d": 24.0, "w": 168.0, "f": 336.0, "m": 1 / 60}


@dataclass(frozen=True, slots=True)
class TextTime:
    """An appointment time read from the text.

    Attributes:
        at: the appointment start, timezone-aware.
        needs_review: True when the reading is uncertain (unknown time on the next day, several
            times without a clear one, a clock time assumed to be the next day).
    """

    at: datetime
    needs_review: bool


def resolve_zone(created_at: datetime, zone: tzinfo | None) -> tzinfo:
    """Pick the zone for times in text: ``timezone``, else ``created_at``'s offset, else UTC.

    Args:
        created_at: the ticket's clock (always aware after ``parse_ticket``).
        zone: the ticket's ``timezone`` field.

    Returns:
        The zone to read text times in.
    """
    if zone is not None:
        return zone
    return created_at.tzinfo or UTC


def elapsed_hours(start: datetime, end: datetime) -> float:
    """Hours from ``start`` to ``end`` as a UTC difference.

    Subtracting two datetimes that share a tzinfo object ignores DST; timestamps do not.

    Args:
        start: aware datetime.
        end: aware datetime.

    Returns:
        Elapsed hours (negative when ``end`` is earlier).
    """
    return (end.timestamp() - start.timestamp()) / 3600.0


def has_time_words(prepared: PreparedText) -> bool:
    """Tell cheaply whether a text could contain a time.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        False when no digit or time word occurs, so the text needs no further reading.
    """
    return prepared.has_digit or not _TIME_WORDS.isdisjoint(prepared.words)


def _number(word: str) -> float:
    return float(word) if word[0].isdigit() else float(_NUMBER_WORDS[word])


def _sentence_starts(low: str) -> list[int]:
    """Offsets where a new sentence begins, ignoring the dots of "Dr.", "p.m." and "3.5"."""
    if "." in low or "!" in low or "?" in low or "\n" in low or ";" in low:
        return [m.end() for m in _SENTENCE_END.finditer(low)]
    return []  # one sentence; five substring checks cost less than the scan


def split_sentences(text: str) -> list[str]:
    """The text cut where its sentences end (``_SENTENCE_END``), each piece with its ending; no empty pieces."""
    low = text.lower()
    bounds = [0, *_sentence_starts(low if len(low) == len(text) else text), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


# A clock as written: (hour, minute, meridiem), meridiem "a"/"p" for am/pm, None for a bare clock,
# "h" for an hour already on the 24-hour clock (noon is 12, midnight 24: the end of its day).
_Clock = tuple[int, int, str | None]


def _clock(g: dict, low: str, start: int, end: int) -> tuple[_Clock, str | None] | None:
    """The clock of a match and the part of day written with it, or None if it is no clock."""
    if g["noon"] is not None:
        return ((24 if g["noon"] == "midnight" else 12), 0, "h"), None
    if g["qq"] is not None:
        return _past_to_clock(g, low, end)
    hour, minute = int(g["ch"]), int(g["cm"] or 0)
    if minute > 59:
        return None
    if g["mer"] is not None:
        return ((hour, minute, g["mer"]), None) if 1 <= hour <= 12 else None
    if g["cnoon"] is not None:  # "12 noon", "12 midnight"
        return (((24 if g["cnoon"] == "midnight" else 12), 0, "h"), None) if hour == 12 else None
    if hour > 23 or (g["sep"] == "." and not _dotted_clock(g, low, start, end)):
        return None
    if g["cm"] is None and g["och"] is None and g["cpart"] is None:
        if g["at"] is not None:
            if _AT_NOT_CLOCK.match(low, end):
                return None
        elif not _day_after(low, start, end):
            return None  # a bare number
    return (hour, minute, None), g["cpart"]


def _past_to_clock(g: dict, low: str, end: int) -> tuple[_Clock, str | None] | None:
    """"half past two" (2:30), "quarter to 5" (4:45), "half 9" (9:30); a quarter needs past or to."""
    if (g["qq"] == "quarter" and g["qdir"] is None) or _AT_NOT_CLOCK.match(low, end):
        return None  # "quarter 3 results", "half 2 hours"
    hour = int(_number(g["qh"]))
    minute = 30 if g["qq"] == "half" else 15
    if g["qdir"] == "to":
        hour, minute = (hour - 1) or 12, 45
    return (hour, minute, g["qmer"]), g["qpart"]


# A dotted clock ("10.30") is a price or a measure ("at 3.50", "2.5") unless a day sits right beside
# it: "Thurs 10.30", "Monday at 8.30", "this morning's 8.30", "10.45 tomorrow", "my 9.15 on Monday".
_DAY_BEFORE_DOTTED = re.compile(
    rf"\b(?:today|tonight|tomorrow|tmrw|{_WEEKDAY}|{_PART})'?s?\s+$"
)


def _dotted_clock(g: dict, low: str, start: int, end: int) -> bool:
    """Whether a dotted number is a clock (see ``_DAY_BEFORE_DOTTED``)."""
    if g["mer"] is not None or g["cpart"] is not None or _day_after(low, start, end):
        return True
    return _DAY_BEFORE_DOTTED.search(low, max(0, start - 16), start) is not None


def _day_after(low: str, start: int, end: int) -> bool:
    """A day word right after a number ("8 tonight"), or after "my N" also "on Friday", "next week"."""
    if _DAY_AFTER.match(low, end) is not None:
        return True
    return low.endswith(("my ", "our "), 0, start) and _MY_DAY_AFTER.match(low, end) is not None


def _clock_time(clock: _Clock, part: str | None) -> tuple[int, int]:
    """Hour (0-24) and minute of a clock, applying the contract's am/pm rule to bare clocks.

    A part of day states am or pm as plainly as the letters do, so it decides first.
    """
    hour, minute, meridiem = clock
    if meridiem == "h":
        return hour, minute
    if meridiem is not None:
        return hour % 12 + (12 if meridiem == "p" else 0), minute
    if hour == 0 or hour > 12:  # 24-hour clock
        return hour, minute
    if part == "morning":
        return hour, minute
    if part is not None:  # afternoon, evening, night: pm; 12 at night is midnight
        if hour == 12:
            return (12 if part == "afternoon" else 24), minute
        return hour + 12, minute
    if 1 <= hour <= 7:  # bare 1-7 is pm, 8-11 am, 12 noon
        return hour + 12, minute
    return hour, minute


def _nearest_date(base: date, month: int, day: int) -> date | None:
    """The date with this month and day nearest to ``base``, past or future."""
    best = None
    for year in (base.year - 1, base.year, base.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((candidate - base).days) < abs((best - base).days):
            best = candidate
    return best


def _nearest_month_day(base: date, day: int) -> date | None:
    """"the 14th" without a month: that day of the previous, this or the next month nearest to ``base``."""
    candidates = []
    for shift in (-1, 0, 1):
        month = base.month + shift
        year, month = base.year + (month - 1) // 12, (month - 1) % 12 + 1
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    # Nearest first; of two equally near, the coming one.
    return min(candidates, key=lambda d: (abs((d - base).days), d < base), default=None)


def _explicit_date(year: str | None, month: int, day: int, base: date) -> date | None:
    if year is None:
        return _nearest_date(base, month, day)
    full = int(year)
    if full < 100:
        full += 2000
    try:
        return date(full, month, day)
    except ValueError:
        return None


def _wall_clock_shift(created: datetime, zone: tzinfo, days: int) -> datetime:
    """``created`` moved by whole calendar days in the client's zone (same clock time)."""
    local = created.astimezone(zone)
    return (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone)


@dataclass(slots=True)
class _Phrase:
    """One date/clock phrase found in the text, before resolution."""

    start: int
    end: int
    kind: str = "clock"  # "clock", "rel", "weekday", "date" (month/day), "exact", "ago"
    day: date | None = None
    clock: _Clock | None = None
    part: str | None = None
    exact: datetime | None = None  # "in 2 hours": already an instant
    same_day: str | None = None  # "today"/"tonight" without a clock


def _date_phrase(g: dict, base: date, created: datetime, zone: tzinfo) -> _Phrase | None:
    """Resolve the date part of a match (clock parts are merged by the caller)."""
    phrase = _Phrase(0, 0, kind="date")
    if g["after"] is not None:
        phrase.kind = "rel"
        phrase.day = base + timedelta(days=2)
    elif g["rel"] is not None:
        rel = g["rel"]
        phrase.kind = "rel"
        if rel.startswith("tod") or rel == "tonight":
            phrase.day = base
            phrase.same_day = rel
        elif rel == "yesterday" or rel == "last night":
            phrase.day = base - timedelta(days=1)
        else:
            phrase.day = base + timedelta(days=1)
        phrase.part = g["relpart"] or ("night" if rel in ("tonight", "last night") else None)
    elif g["thispart"] is not None:
        phrase.kind = "rel"
        phrase.day = base
        phrase.part = g["thispart"].split()[-1]
    elif g["wd"] is not None:
        phrase.kind = "weekday"
        weekday = _WEEKDAYS[g["wd"][:3]]
        if g["wdmod"] == "last":
            back = (base.weekday() - weekday) % 7 or 7
            phrase.day = base - timedelta(days=back)
        else:
            ahead = (weekday - base.weekday()) % 7 or 7
            phrase.day = base + timedelta(days=ahead)
        phrase.part = g["wdpart"]
    elif g["mon"] is not None:
        phrase.day = _explicit_date(g["myear"], _MONTHS[g["mon"][:3]], int(g["mday"]), base)
    elif g["dmon"] is not None:
        phrase.day = _explicit_date(g["dyear"], _MONTHS[g["dmon"][:3]], int(g["dday"]), base)
    elif g["iso"] is not None:
        phrase.day = _explicit_date(g["iy"], int(g["im"]), int(g["id"]), base)
    elif g["oday"] is not None:
        phrase.day = _nearest_month_day(base, int(g["oday"]))
    elif g["nm"] is not None:
        month, day = int(g["nm"]), int(g["nd"])
        if not 1 <= month <= 12:
            return None
        phrase.day = _explicit_date(g["ny"], month, day, base)
    elif g["innum"] is not None:
        return _offset_phrase(g["innum"], g["inunit"], False, created, zone)
    else:
        return None
    return phrase if phrase.day is not None else None


def _offset_phrase(
    number: str, unit: str, ago: bool, created: datetime, zone: tzinfo
) -> _Phrase | None:
    """"in 3 days", "2 hours ago": an instant; calendar days and weeks keep the clock time."""
    amount = _number(number) * (-1 if ago else 1)
    phrase = _Phrase(0, 0, kind="ago" if ago else "exact")
    if unit[0] in "dw":
        days = amount * (7 if unit[0] == "w" else 1)
        if days != int(days):
            return None
        phrase.exact = _wall_clock_shift(created, zone, int(days))
    else:
        phrase.exact = created + timedelta(hours=amount * _UNIT_HOURS[unit[0]])
    return phrase


def _is_clock(g: dict) -> bool:
    return g["ch"] is not None or g["noon"] is not None or g["qq"] is not None


def _find_phrases(
    prepared: PreparedText, base: date, created: datetime, zone: tzinfo
) -> list[_Phrase]:
    """All date/clock phrases, with a date and its clock merged into one phrase."""
    low = prepared.low
    habitual = not _HABITUAL_WORDS.isdisjoint(prepared.words)
    phrases: list[_Phrase] = []
    pending_clock: _Phrase | None = None  # a clock waiting for a following date ("3pm friday")
    for match in _TOKEN.finditer(low):
        g = match.groupdict()
        start, end = match.span()
        if habitual and (
            _HABITUAL_AFTER.match(low, end)
            or _HABITUAL_BEFORE.search(low, max(0, start - 16), start)
        ):
            pending_clock = None
            continue
        if _is_clock(g):
            found = _clock(g, low, start, end)
            if found is None:
                continue
            clock, part = found
            last = phrases[-1] if phrases else None
            if (
                last is not None and last.clock is None and last.exact is None
                and _DATE_CLOCK_GAP.fullmatch(low, last.end, start)
            ):  # fmt: skip
                last.clock, last.end = clock, end
                last.part = part or last.part
                continue
            phrase = _Phrase(start, end, clock=clock, part=part)
            phrases.append(phrase)
            pending_clock = phrase
            continue
        phrase = _date_phrase(g, base, created, zone)
        if phrase is None:
            continue
        phrase.start, phrase.end = start, end
        last = phrases[-1] if phrases else None
        if (
            last is not None and last.kind == "weekday" and phrase.kind == "date"
            and _WEEKDAY_DATE_GAP.fullmatch(low, last.end, start)
        ):  # fmt: skip
            # "Friday, March 7": the explicit date says which Friday.
            last.day, last.end, last.kind = phrase.day, end, "date"
            pending_clock = None
            continue
        if (
            pending_clock is not None and last is pending_clock and phrase.exact is None
            and _CLOCK_DATE_GAP.fullmatch(low, pending_clock.end, start)
        ):  # fmt: skip
            pending_clock.day, pending_clock.end = phrase.day, end
            pending_clock.kind = phrase.kind
            pending_clock.part = pending_clock.part or phrase.part
            pending_clock.same_day = phrase.same_day
            if phrase.kind != "weekday":
                pending_clock = None
            continue
        pending_clock = None
        phrases.append(phrase)
    if "ago" in low or "from now" in low:
        for match in _AGO.finditer(low):
            phrase = _offset_phrase(
                match["num"], match["unit"], match["dir"] == "ago", created, zone
            )
            if phrase is not None:
                phrase.start, phrase.end = match.span()
                phrases[:] = [p for p in phrases if p.end <= phrase.start or p.start >= phrase.end]
                phrases.append(phrase)
        phrases.sort(key=lambda p: p.start)
    return phrases


def _fallback_month_phrase(low: str, base: date, created: datetime) -> _Phrase | None:
    """A month-name date the regexes missed ("3-dec at 4pm", "dec-03"), read by dateparser.

    Called only when a month name occurs outside every phrase found, so its ~1 ms cost is paid
    by few tickets.
    """
    from dateparser.search import search_dates  # slow import, rarely needed

    match = _MONTH_WORD.search(low)
    offset = max(0, match.start() - 20)
    window = low[offset : match.end() + 25]
    try:
        found = search_dates(
            window,
            languages=["en"],
            settings={"RELATIVE_BASE": created.replace(tzinfo=None), "DATE_ORDER": "MDY"},
        )
    except Exception:  # noqa: BLE001 - a fallback reader must never fail the ticket
        return None
    for phrase_text, when in found or []:
        # dateparser fills a missing day with today's; insist the phrase wrote a number.
        if _MONTH_WORD.search(phrase_text) is None or not any(c.isdigit() for c in phrase_text):
            continue
        day = _nearest_date(base, when.month, when.day)
        if day is None:
            continue
        start = offset + window.find(phrase_text)
        has_clock = when.hour != 0 or when.minute != 0
        return _Phrase(
            start, start + len(phrase_text), kind="date", day=day,
            clock=(when.hour, when.minute, "h") if has_clock else None,
        )  # fmt: skip
    return None


def _add_fallback(phrases: list[_Phrase], low: str, base: date, created: datetime) -> None:
    """Let dateparser read a month name that no regex phrase covers, in place."""
    match = _MONTH_WORD.search(low)
    if match is None or any(p.start <= match.start() < p.end for p in phrases):
        return
    # dateparser only keeps phrases with a number, so a month word with no digit beside it ("to whom
    # it may concern", "the bill for march") cannot give a date: skip the ~5 ms call.
    if not any(c.isdigit() for c in low[max(0, match.start() - 6) : match.end() + 6]):
        return
    extra = _fallback_month_phrase(low, base, created)
    if extra is None:
        return
    phrases[:] = [p for p in phrases if p.end <= extra.start or p.start >= extra.end]
    phrases.append(extra)
    phrases.sort(key=lambda p: p.start)


def _appointment_phrases(
    phrases: list[_Phrase], prepared: PreparedText, base: date
) -> list[_Phrase]:
    """The phrases that can be the appointment's time (see the module docstring)."""
    low = prepared.low
    if not _DATES_OTHER_WORDS.isdisjoint(prepared.words):
        phrases = [
            p for p in phrases if not _DATES_OTHER.search(low, max(0, p.start - 60), p.start)
        ]
    starts = _sentence_starts(low)
    if not starts:  # one sentence
        if _APPOINTMENT_CUE.search(low) is not None:
            return phrases
        return _outside_appointment_talk(phrases, base)
    bounds = [0, *starts, len(low)]
    cued: dict[int, bool] = {}
    kept = []
    for phrase in phrases:
        index = bisect_right(starts, phrase.start)
        if index not in cued:  # one search per sentence that holds a phrase
            found = _APPOINTMENT_CUE.search(low, bounds[index], bounds[index + 1])
            cued[index] = found is not None
        if cued[index]:
            kept.append(phrase)
    return kept or _outside_appointment_talk(phrases, base)


def _outside_appointment_talk(phrases: list[_Phrase], base: date) -> list[_Phrase]:
    """The phrases that can be an appointment though no sentence with a time talks about one.

    Only a clock from today on or a time ahead ("in 2 hours"); a day alone, "at 9pm last night" or
    "3 days ago" dates something else.
    """
    return [
        p for p in phrases
        if p.kind == "exact" or (p.clock is not None and (p.day is None or p.day >= base))
    ]  # fmt: skip


def _at(day: date, hour: int, minute: int, zone: tzinfo) -> datetime:
    if hour == 24:  # midnight: the end of the day
        day, hour = day + timedelta(days=1), 0
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def _instant(
    phrase: _Phrase, zone: tzinfo, created: datetime, base: date, low: str
) -> tuple[datetime, bool]:
    """The phrase as an aware datetime plus whether the reading needs review."""
    if phrase.exact is not None:
        return phrase.exact, False
    if phrase.clock is not None:
        hour, minute = _clock_time(phrase.clock, phrase.part)
        if phrase.day is not None:
            return _at(phrase.day, hour, minute, zone), False
        # A clock alone: today, or the next day if today's has passed.
        at = _at(base, hour, minute, zone)
        if at < created and _PAST_CUE.search(low) is None:
            return _at(base + timedelta(days=1), hour, minute, zone), True
        return at, False
    hour = _PART_HOURS.get(phrase.part or "", 12)
    at = datetime.combine(phrase.day, time(hour, 0), tzinfo=zone)
    if phrase.same_day is not None:
        # "today"/"tonight" without a clock: later the same day, so 0 <= h < 24.
        return max(at, created), False
    # An unknown time on the next day may fall on either side of 24 h.
    return at, phrase.day == base + timedelta(days=1)


def _pick_existing(phrases: list[_Phrase], low: str) -> tuple[_Phrase, bool]:
    """The first phrase that refers to an existing appointment, and whether that was unclear."""
    if len(phrases) == 1:
        return phrases[0], False

    candidates = []  # phrases that are not a new or proposed time
    for phrase in phrases:
        before = low[max(0, phrase.start - 30) : phrase.start]
        if _TARGET_BEFORE.search(before) or _TARGET_AFTER.match(low, phrase.end):
            continue
        if _EXISTING_BEFORE.search(before) or _EXISTING_AFTER.match(low, phrase.end):
            return phrase, False
        candidates.append(phrase)
    if len(candidates) == 1:
        return candidates[0], False
    return phrases[0], True


def find_appointment_time(
    text: str | PreparedText, created_at: datetime, zone: tzinfo | None = None
) -> TextTime | None:
    """Read the appointment time from the ticket text (CONTRACT.md section 3.1).

    Args:
        text: the ticket text, or the same from ``prepare_text`` to save the work.
        created_at: when the ticket was made (aware); text times are relative to it.
        zone: the ticket's ``timezone`` field, if any.

    Returns:
        The appointment time and whether it needs review, or None when the text names no time
        for an appointment.
    """
    prepared = prepare_text(text) if isinstance(text, str) else text
    if not has_time_words(prepared):
        return None
    low = prepared.low
    zone = resolve_zone(created_at, zone)
    try:
        base = created_at.astimezone(zone).date()
        phrases = _find_phrases(prepared, base, created_at, zone)
        _add_fallback(phrases, low, base, created_at)
        phrases = _appointment_phrases(phrases, prepared, base) if phrases else phrases
        if not phrases:
            return None
        phrase, unclear = _pick_existing(phrases, low)
        at, review = _instant(phrase, zone, created_at, base, low)
    except (OverflowError, ValueError):  # dates at the edge of the calendar
        return None
    return TextTime(at=at, needs_review=unclear or review)


# Waiting for the provider. A sentence counts when it says a message went to the provider ("I
# messaged Dr. Patel", "I wrote her"), that no reply came ("haven't heard back"), or that the
# client is waiting for one ("waiting for her to answer"); waiting for a dose to work, writing in a
# journal or emailing the Support Team are not unanswered messages to the provider.
_PROVIDER = (
    r"(?:provider|therapist|psychiatrist|psychologist|psych|counsel+or|doctor|dr|prescriber|clinician|np|"
    r"practitioner|care team)"
)
_NO_REPLY = re.compile(
    r"\b(?:no (?:reply|replies|response|answer|word|callback|call back)|"
    r"not (?:replied|responded|answered|heard|gotten back|got back|written back)|"
    r"ignor(?:ing|ed|es)\b|ghost|unanswered|radio silence|still nothing|nothing back|"
    r"heard nothing|never (?:replied|responded|answered|got back|wrote back|heard)|"
    r"not (?:had|received|gotten|got) (?:a |any )?(?:reply|replies|response|answer)|not a peep|nothing since|"
    r"(?:nobody|no one|no-one) (?:has )?(?:answered|replied|responded|got back|called back|wrote back)|"
    r"zero (?:reply|replies|response|responses)|(?:still|just|total|complete) silence|silence since|"
    r"no acknowledge?ment|nothing yet|no news|not a (?:single )?word|(?:days?|weeks?) of silence|crickets)|"
    r"n'?t (?:replied|responded|answered|heard|gotten back|got back|written back|get back|reply|"
    r"respond|answer|hear|called back|returned)|"
    r"n'?t (?:had|received|gotten|got) (?:a |an |any )?(?:reply|replies|response|answer|word)"
)
_WAITING = re.compile(
    r"\b(?:waiting|waits|waited)\b[^.!?;]{0,40}?\b(?:repl(?:y|ies)|response|answer|callback|call back|hear|word|"
    r"get back|gets back|back to me|"
    rf"her|him|them|{_PROVIDER}|ms|mrs|mr|mx)\b"
)
# A message verb and who it went to: the provider, or a message without a named recipient; or the
# provider named a few words on, after "to" or "with" ("sent my form to Dr. Reyes", "queried the fee
# with my therapist").
_RECIPIENT = rf"(?:her|him|them|(?:my|the|our)\s+{_PROVIDER}|{_PROVIDER}\b|(?:ms|mrs|mr|mx)\.?\s+[a-z]+)"
_SENT = re.compile(
    rf"\b{_MESSAGE_VERB}\s+(?:(?:a|an|my|the)\s+(?:message|note|email|text|voicemail|question)\s+"
    rf"(?:to|for)\s+)?(?:{_RECIPIENT}|"
    rf"(?:a|an|my|{_NUM})\s+(?:portal\s+)?(?:messages?|notes?|emails?|questions?|voicemails?))"
    rf"|\b{_MESSAGE_VERB}\b[^.!?;]{{0,60}}?\b(?:to|with)\s+{_RECIPIENT}"
)
_MESSAGE_NOUN = re.compile(r"\b(?:message|messages|email|text|voicemail|question|note)\b")
# A message noun right before the date: "I requested it in a message on March 2".
_MESSAGE_ON = re.compile(r"\b(?:message|email|note|voicemail)\s+(?:sent\s+)?$")
# A date the writer's message verb follows at once: "On 11 August I wrote to my provider".
_DATE_THEN_SENT = re.compile(rf",?\s+(?:i|we)\s+(?:have\s+|had\s+|then\s+)?{_MESSAGE_VERB}\b")
# Someone other than the provider: such a sentence is about them unless it names the provider too.
_OTHER_ADDRESSEE = re.compile(
    r"\b(?:support|help ?desk|customer service|billing (?:team|department|office)|insurance|"
    r"insurer|pharmacy|pharmacist|you guys|your team|front desk|admin)\b"
)
_PROVIDER_WORD = re.compile(rf"\b{_PROVIDER}\b")
# A count of hours or days is a wait unless it is a frequency or lies ahead ("every two weeks", "in 2 days").
_WAIT_SPAN = re.compile(
    rf"(?<![\w-])(?<!every )(?<!\bin )(?<!within )(?P<num>{_NUM})(?P<half>\s+and\s+a\s+half)?"
    r"\s+(?P<unit>hours?|hrs?|days?|weeks?|wks?|fortnights?)\b"
    r"(?:\s+(?P<ago>ago|now))?"
    rf"|\bsince\s+(?:last\s+)?(?P<swd>{_WEEKDAY})|\bsince\s+(?P<srel>yesterday|last week)"
    rf"|\b(?:on|from|sent)\s+(?:last\s+)?(?P<owd>{_WEEKDAY})|\b(?P<lwd>last\s+{_WEEKDAY})"
    r"|\b(?P<yest>yesterday)|\b(?P<lweek>last week)"
    rf"|\bsince\s+(?P<smon>{_MONTH})\.?\s+(?P<sday>\d{{1,2}})"
    r"|\bsince\s+(?P<snm>\d{1,2})/(?P<snd>\d{1,2})(?![\d/])"
    rf"|\b(?P<odon>on|since)\s+(?:the\s+)?(?P<odd>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<odmon>{_MONTH})\b"
    rf"|\bon\s+(?P<omon>{_MONTH})\.?\s+(?:the\s+)?(?P<oday>\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"|\b(?P<tdon>on|since)\s+(?:the\s+)?(?P<tdd>\d{{1,2}})(?:st|nd|rd|th)\b(?!\s+(?:of\s+)?{_MONTH}\b)"
    rf"|\b(?:message|email|text|note|voicemail|him|her|them|{_PROVIDER})\s+(?:last\s+)?(?P<mwd>{_WEEKDAY})\b"
    r"|\b(?P<dpart>last night|this (?:morning|afternoon|evening))\b"
    rf"|\b(?:that|it) was (?:on )?(?:last )?(?P<twd>{_WEEKDAY})\b"
    r"|\b(?:that|the) same (?P<same>day|morning|afternoon|evening|night)\b"  # the day named before
)
# A clock right after the day a message was sent ("yesterday at 6:30pm", "on Friday at 9").
_WAIT_CLOCK = re.compile(
    rf"(?:\s+{_PART})?\s+(?:at|around|@|about)\s*(?:(?:like|about|around)\s+)?(\d{{1,2}})(?::(\d{{2}}))?(?:\s*([ap])\.?\s?m\b\.?)?"
)
_WAIT_WORDS = anchor_words(
    "reply replies response answer callback call heard back replied responded answered hear "
    "respond returned waiting wrote written messaged emailed mailed texted sent send reached left "
    "asking messaging emailing texting queried peep since "
    "contacted asked called pinged reach trying tried ignoring ignored ignores ghosted ghosting "
    "silence unanswered news word acknowledgement acknowledgment crickets "
    "nothing"
)
# Every _WAIT_SPAN alternative contains one of these (weekday names contain "day" except the
# abbreviations listed; dates name a month or end in st/nd/rd/th; parts of day are listed), so a
# text without any of them has no wait to read.
_WAIT_SPAN_HINT = re.compile(
    rf"day|hour|hr|week|wk|fortnight|tues|weds|thurs|since|night|morning|afternoon|evening|\d(?:st|nd|rd|th)\b|{_MONTH}"
)


def _wait_anchor(g: dict, base: date) -> date | None:
    """The day an unanswered message was sent, from a 'since Monday'-style match."""
    name = g["swd"] or g["owd"] or g["mwd"] or g["twd"] or (g["lwd"].split()[-1] if g["lwd"] else None)
    if name is not None:
        weekday = _WEEKDAYS[name[:3]]
        return base - timedelta(days=(base.weekday() - weekday) % 7 or 7)
    if g["yest"] is not None or g["srel"] == "yesterday" or g["dpart"] == "last night":
        return base - timedelta(days=1)
    if g["lweek"] is not None or g["srel"] == "last week":
        return base - timedelta(days=7)
    if g["smon"] is not None:
        return _nearest_date(base, _MONTHS[g["smon"][:3]], int(g["sday"]))
    if g["snm"] is not None and 1 <= int(g["snm"]) <= 12:
        return _nearest_date(base, int(g["snm"]), int(g["snd"]))
    if g["odmon"] is not None:
        return _nearest_date(base, _MONTHS[g["odmon"][:3]], int(g["odd"]))
    if g["omon"] is not None:
        return _nearest_date(base, _MONTHS[g["omon"][:3]], int(g["oday"]))
    if g["dpart"] is not None:  # "this morning"
        return base
    if g["tdd"] is not None:  # "on the 3rd": the last such day up to today
        back = base.replace(day=1) - timedelta(days=1) if int(g["tdd"]) > base.day else base
        try:
            return back.replace(day=int(g["tdd"]))
        except ValueError:  # "the 31st" before a 30-day month
            return None
    return None


def _wait_clock(chunk: str, end: int, part: str | None = None) -> time:
    """The clock written right after a wait's day, read as CONTRACT.md section 3.1 reads clocks.

    Without a clock: the part of day's hour ("last night" 20:00), else 12:00.
    """
    found = _WAIT_CLOCK.match(chunk, end)
    if found is None:
        return time(_PART_HOURS[part] if part else 12, 0)
    hour, minute, meridiem = int(found[1]), int(found[2] or 0), found[3]
    if hour > 23 or minute > 59 or (meridiem and not 1 <= hour <= 12):
        return time(12, 0)
    hour, minute = _clock_time((hour, minute, meridiem), part)
    return time(0, minute) if hour == 24 else time(hour, minute)


def _named_day(chunk: str, base: date, day: date | None = None) -> date | None:
    """The last day a sentence names ("I missed my session on the 2nd"), else ``day``."""
    if _WAIT_SPAN_HINT.search(chunk) is None:
        return day
    for match in _WAIT_SPAN.finditer(chunk):
        day = _wait_anchor(match.groupdict(), base) or day  # None for counts and "that same ..."
    return day


def _dates_something_else(
    g: dict, chunk: str, match: re.Match, sent_match: re.Match | None, offset: int
) -> bool:
    """Whether "on 2 June" (or "on the 3rd", "message Monday") dates something other than the message.

    It dates the message only after its verb ("I asked her on 2 June"), right after a message noun
    ("in a message on March 2") or right before the writer's verb ("On 11 August I wrote"): in "I
    missed my session on Nov 24 and asked my counselor ..." it dates the session.
    """
    if not (g["odon"] == "on" or g["omon"] or g["tdon"] == "on" or g["mwd"]):
        return False
    if sent_match is not None and sent_match.start() - offset <= match.start():
        return False
    if _MESSAGE_ON.search(chunk, max(0, match.start() - 24), match.start()) is not None:
        return False
    return _DATE_THEN_SENT.match(chunk, match.end()) is None


def _sentence_wait(
    chunk: str, base: date, zone: tzinfo, created_at: datetime, before: str = "", after: str = "",
    named: date | None = None,
) -> float | None:
    """The longest wait one sentence states, or None.

    ``before`` and ``after`` are the neighbouring sentences a span-only sentence takes its message
    or no-reply wording from ("I asked her about the dose. That was five days ago. Nothing since.").
    ``named`` is the last day the text named before this sentence, for "that same night".
    """
    if _WAIT_SPAN_HINT.search(chunk) is None:  # no span: skip the cue regexes (measured cheaper
        # than one search for any cue over the whole text first)
        return None
    offset = len(before) + 1 if before else 0
    cue = f"{before} {chunk} {after}" if before else f"{chunk} {after}" if after else chunk
    sent_match = _SENT.search(cue)
    sent = sent_match is not None
    if not sent and _NO_REPLY.search(cue) is None and _WAITING.search(cue) is None:
        return None
    if _OTHER_ADDRESSEE.search(cue) and not _PROVIDER_WORD.search(cue):
        return None
    # A bare day ("yesterday", "on Monday") dates the wait only when it dates a message: in "she
    # missed our session yesterday and I haven't heard from her" it dates the session.
    dates_message = sent or _MESSAGE_NOUN.search(cue) is not None
    best: float | None = None
    for match in _WAIT_SPAN.finditer(chunk):
        g = match.groupdict()
        if g["num"] is not None:
            hours = (_number(g["num"]) + (0.5 if g["half"] else 0)) * _UNIT_HOURS[g["unit"][0]]
        else:
            if g["same"] is not None:  # "I messaged her that same night around 8pm"
                day = _named_day(chunk[: match.start()], base, named) if sent else None
                part = None if g["same"] == "day" else g["same"]
            else:
                since = g["swd"] or g["srel"] or g["smon"] or g["snm"] or (
                    g["odd"] if g["odon"] == "since" else g["tdd"] if g["tdon"] == "since" else None
                )
                if since is None and not dates_message:
                    continue
                if _dates_something_else(g, chunk, match, sent_match, offset):
                    continue
                day = _wait_anchor(g, base)
                part = g["dpart"].split()[-1] if g["dpart"] else None
            if day is None:
                continue
            sent_at = datetime.combine(day, _wait_clock(chunk, match.end(), part), tzinfo=zone)
            hours = elapsed_hours(sent_at, created_at)
        if hours >= 0 and (best is None or hours > best):
            best = hours
    return best


def find_wait_hours(
    text: str | PreparedText, created_at: datetime, zone: tzinfo | None = None
) -> float | None:
    """Read how long the client has waited for the provider's reply, from the text.

    Only sentences that state a message to the provider, a missing reply or a wait for one count
    (see ``_SENT``, ``_NO_REPLY``, ``_WAITING``). A day without a time ("I wrote her on
    Saturday") is read at 12:00 in the client's zone. When several spans are found the longest
    wait is used: it is the first, unanswered message.

    Args:
        text: the ticket text, or the same from ``prepare_text``.
        created_at: when the ticket was made (aware).
        zone: the ticket's ``timezone`` field, if any.

    Returns:
        Hours waited, or None when the text states no unanswered message.
    """
    prepared = prepare_text(text) if isinstance(text, str) else text
    low = prepared.low
    if _WAIT_WORDS.isdisjoint(prepared.words) or _WAIT_SPAN_HINT.search(low) is None:
        return None
    zone = resolve_zone(created_at, zone)
    base = created_at.astimezone(zone).date()
    chunks = split_sentences(low)
    best: float | None = None
    named: date | None = None  # the last day named so far, for "that same night"
    track_days = "same" in low
    for i, chunk in enumerate(chunks):
        hours = _sentence_wait(chunk, base, zone, created_at, named=named)
        after = chunks[i + 1] if i + 1 < len(chunks) else ""
        if hours is None and _borrows_cue(chunk, after):
            hours = _sentence_wait(chunk, base, zone, created_at, chunks[i - 1] if i else "", after, named)
        if hours is not None and (best is None or hours > best):
            best = hours
        if track_days:
            named = _named_day(chunk, base, named)
    return best


# A sentence that only says how long ("That was five days ago.", "Ten days.", "It's been a week.")
# takes its message or no-reply wording from the sentences beside it.
_SPAN_ONLY = re.compile(
    r"\W*(?:(?:and\s+)?(?:that|this|it)\s*(?:was|is|'s|’s|has)(?:\s+been)?\b"
    rf"|(?:{_NUM})(?:\s+and\s+a\s+half)?\s+(?:hours?|days?|weeks?|fortnights?)\W*$)"
)
_HOW_LONG = re.compile(r"\W*(?:that'?s|that is|this is) how long\b")


def _borrows_cue(chunk: str, following: str) -> bool:
    """Whether a sentence with no cue of its own reads one from its neighbours: it only says how
    long, or the next sentence says how long it was or is a short no-reply ("Nothing since.")."""
    if _SPAN_ONLY.match(chunk) is not None or _HOW_LONG.match(following) is not None:
        return True
    return len(following.split()) <= 4 and _NO_REPLY.search(following) is not None
