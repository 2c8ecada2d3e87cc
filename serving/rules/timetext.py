"""Times written in ticket text: the appointment time and how long the client has waited.

CONTRACT.md section 3.1 fixes the reading: times are in the client's zone (``timezone``, else the
offset of ``created_at``, else UTC); hours are elapsed (a UTC difference, so a daylight-saving
change gives 23 or 25 h); a weekday is its first occurrence after ``created_at``'s day; a month
and day without a year is the nearest such date; a bare clock 1-7 is pm, 8-11 am, 12 noon; a date
without a time is 12:00, except today/tonight (later the same day); an unknown time on the next
day sets ``needs_review``; of several times the first referring to an existing appointment wins.

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
    "minute minutes min mins"
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
_PART_HOURS = {"morning": 9, "afternoon": 15, "evening": 18, "night": 20}

# Date phrases (named groups tell the kinds apart).
_DATE = (
    r"(?P<rel>today|tonight|tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|yesterday)"
    r"(?:'s)?(?:\s+(?P<relpart>morning|afternoon|evening|night))?"
    r"|(?P<thispart>this\s+(?:morning|afternoon|evening))"
    rf"|(?:(?P<wdmod>this|next|last|coming|on)\s+)?(?P<wd>{_WEEKDAY})"
    r"(?:'s)?(?:\s+(?P<wdpart>morning|afternoon|evening|night))?"
    rf"|(?P<mon>{_MONTH})\.?\s+(?:the\s+)?(?P<mday>\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(?P<myear>\d{4})\b)?"
    rf"|(?P<dday>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dmon>{_MONTH})\b"
    r"(?:,?\s+(?P<dyear>\d{4})\b)?"
    r"|(?P<iso>(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2}))"
    r"|(?<![\d/.])(?P<nm>\d{1,2})/(?P<nd>\d{1,2})(?:/(?P<ny>\d{4}|\d{2}))?(?![\d/]|\s*(?:of|hours?|hrs?)\b)"
    rf"|\bin\s+(?P<innum>{_NUM})\s+(?P<inunit>hours?|hrs?|minutes?|mins?|days?)\b"
)
# Clock phrases.
_CLOCK = (
    r"(?P<ch>\d{1,2})(?::(?P<cm>\d{2}))?\s*(?P<mer>a\.?m\.?|p\.?m\.?)(?![a-z])"
    r"|(?<![\d:/.])(?P<hh>\d{1,2}):(?P<mm>\d{2})(?![\d:])"
    r"|(?<![a-z])(?P<noon>noon|midday|midnight)"  # not the "noon" of "good afternoon"
    r"|(?:\bat|@)\s*(?P<ath>\d{1,2})(?![\d:/.]|\s*(?:%|percent|hours?|hrs?|days?|minutes?|mins?|"
    r"weeks?|people|times|o'?clock))"
    r"|(?P<och>\d{1,2})\s*o'?clock"
)
_TOKEN_BODY = rf"\b(?:{_DATE})|(?:{_CLOCK})"
# Every phrase starts with a digit, "@" or a letter that follows no other letter (a word start, or
# "noon" after a digit). Checking that first costs one step per position, where trying the
# alternatives costs several, so the scan runs about 2.5 times faster and finds the same matches.
_TOKEN_START = r"(?=[\d@]|(?<![a-z])[a-z])"
_TOKEN = re.compile(rf"{_TOKEN_START}(?:{_TOKEN_BODY})")
# What may sit between a date and its clock ("tomorrow at 3pm", "3pm on Friday").
_DATE_CLOCK_GAP = re.compile(r"\s*(?:,|at|@|by|around|from|for)?\s*(?:at\s+)?")
_CLOCK_DATE_GAP = re.compile(r"\s*(?:,|on|this|next)?\s*")
# Words that mark a time as the appointment the ticket is about...
_EXISTING_BEFORE = re.compile(
    r"(?:\bmy|\bour|appointment|\bappt|session|scheduled|booked|\bmissed|\bmiss|cancel\w*|"
    r"\bfrom|\bhave|\bhad|\bcurrent(?:ly)?|\bfor|\bis|\bwas)\s*(?:\w+\s*){0,2}$"
)
_EXISTING_AFTER = re.compile(r"(?:'s)?\s*(?:appointment|appt|session|therapy|visit|call)")
# ...and words that mark it as a new or proposed time, or a time the client wrote to the provider.
_TARGET_BEFORE = re.compile(
    r"(?:\bto|\binstead|\bnew|\buntil|\bor|\bavailable|\bopen(?:ing)?|\bfree|\bswitch(?: it)? to|"
    r"\bbook(?: me)?(?: for| in)?|\bwrote|\bmessaged|\bemailed|\btexted|\bsent|\bcontacted|"
    r"\bsince|\bcalled|\bleft (?:a|her|him|them) (?:message|voicemail))\s*(?:\w+\s*){0,1}$"
)
_PAST_CUE = re.compile(
    r"\bmissed\b|\bwas\b|\bwere\b|\bdidn'?t\b|\bdid not\b|\bearlier\b|\bago\b|no[- ]show|"
    r"never (?:showed|joined|came)|\bcharged\b"
)
_MONTH_WORD = re.compile(rf"\b{_MONTH}\b(?!\s+(?:i|we|you|he|she|they|be|have)\b)")
# Waiting for the provider: a cue in the sentence, then a duration or an anchor date.
# One \b shared by a group instead of one per alternative: Python's ``re`` skips an alternative
# that starts with a literal after a single comparison but must fully try one that starts with
# \b, so this form runs several times faster. No two alternatives can match at the same
# position, so grouping them in another order finds the same matches.
_WAIT_CUE = re.compile(
    r"\b(?:no (?:reply|replies|response|answer|word|callback|call back)|"
    r"not (?:replied|responded|answered|heard|gotten back|got back|written back)|"
    r"waiting|wrote\b|messaged\b|emailed\b|texted\b|sent (?:her|him|them|my|a|an)\b|"
    r"reached out|left (?:a|her|him|them) (?:message|voicemail)|contacted\b|ignor|ghost|"
    r"unanswered)|"
    r"n'?t (?:replied|responded|answered|heard|gotten back|got back|written back|get back|reply|"
    r"respond|answer|hear|called back|returned)|"
    r"radio silence|still nothing|nothing back|heard nothing|"
    r"never (?:replied|responded|answered|got back|wrote back)"
)
_WAIT_SPAN = re.compile(
    rf"(?<![\w-])(?P<num>{_NUM})\s+(?P<unit>hours?|hrs?|days?|weeks?|wks?)\b(?:\s+(?P<ago>ago|now))?"
    rf"|\bsince\s+(?:last\s+)?(?P<swd>{_WEEKDAY})|\bsince\s+(?P<srel>yesterday|last week)"
    rf"|\bon\s+(?:last\s+)?(?P<owd>{_WEEKDAY})|\b(?P<lwd>last\s+{_WEEKDAY})"
    r"|\b(?P<yest>yesterday)|\b(?P<lweek>last week)"
    rf"|\bsince\s+(?P<smon>{_MONTH})\.?\s+(?P<sday>\d{{1,2}})"
    r"|\bsince\s+(?P<snm>\d{1,2})/(?P<snd>\d{1,2})(?![\d/])"
)
_WAIT_WORDS = anchor_words(
    "reply replies response answer callback call heard back replied responded answered hear "
    "respond returned waiting wrote messaged emailed texted sent reached left contacted ignoring "
    "ignored ignores ghosted ghosting silence unanswered nothing"
)
_SENTENCE = re.compile(r"[^.!?\n;]+")
# Every _WAIT_SPAN alternative contains one of these (weekday names contain "day" except the
# abbreviations listed), so a text without any of them has no wait to read.
_WAIT_SPAN_HINT = re.compile(r"day|hour|hr|week|wk|tues|weds|thurs|since")
_UNIT_HOURS = {"h": 1.0, "d": 24.0, "w": 168.0, "m": 1 / 60}


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


def _clock(groups: dict) -> tuple[int, int] | None:
    """Hour and minute from a clock match, applying the contract's am/pm rules."""
    if groups["ch"] is not None:
        hour, minute = int(groups["ch"]), int(groups["cm"] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return None
        pm = groups["mer"][0] == "p"
        return (hour % 12 + (12 if pm else 0), minute)
    if groups["noon"] is not None:
        return (0, 0) if groups["noon"] == "midnight" else (12, 0)
    if groups["hh"] is not None:
        hour, minute = int(groups["hh"]), int(groups["mm"])
    elif groups["ath"] is not None:
        hour, minute = int(groups["ath"]), 0
    else:
        hour, minute = int(groups["och"]), 0
    if hour > 23 or minute > 59:
        return None
    if 1 <= hour <= 7:  # bare 1-7 is pm, 8-11 am, 12 noon; 0 and 13-23 are 24-hour clock
        hour += 12
    return (hour, minute)


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


@dataclass(slots=True)
class _Phrase:
    """One date/clock phrase found in the text, before resolution."""

    start: int
    end: int
    day: date | None = None
    clock: tuple[int, int] | None = None
    part: str | None = None
    exact: datetime | None = None  # "in 2 hours": already an instant
    same_day: str | None = None  # "today"/"tonight" without a clock


def _date_phrase(g: dict, base: date, created: datetime) -> _Phrase | None:
    """Resolve the date part of a match (clock parts are merged by the caller)."""
    phrase = _Phrase(0, 0)
    if g["rel"] is not None:
        rel = g["rel"]
        if rel.startswith("tod") or rel == "tonight":
            phrase.day = base
            phrase.same_day = rel
        elif rel == "yesterday":
            phrase.day = base - timedelta(days=1)
        else:
            phrase.day = base + timedelta(days=1)
        phrase.part = g["relpart"] or ("night" if rel == "tonight" else None)
    elif g["thispart"] is not None:
        phrase.day = base
        phrase.part = g["thispart"].split()[-1]
    elif g["wd"] is not None:
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
    elif g["nm"] is not None:
        month, day = int(g["nm"]), int(g["nd"])
        if not 1 <= month <= 12:
            return None
        phrase.day = _explicit_date(g["ny"], month, day, base)
    elif g["innum"] is not None:
        amount = _number(g["innum"])
        unit = g["inunit"][0]
        if unit == "d":
            phrase.day = base + timedelta(days=int(amount))
        else:
            phrase.exact = created + timedelta(hours=amount * _UNIT_HOURS[unit])
            return phrase
    else:
        return None
    return phrase if phrase.day is not None else None


def _find_phrases(low: str, base: date, created: datetime) -> list[_Phrase]:
    """All date/clock phrases, with a date and its clock merged into one phrase."""
    phrases: list[_Phrase] = []
    pending_clock: _Phrase | None = None  # a clock waiting for a following date ("3pm friday")
    for match in _TOKEN.finditer(low):
        g = match.groupdict()
        start, end = match.span()
        is_clock = (
            g["ch"] is not None or g["hh"] is not None or g["noon"] is not None
            or g["ath"] is not None or g["och"] is not None
        )  # fmt: skip
        if is_clock:
            clock = _clock(g)
            if clock is None:
                continue
            last = phrases[-1] if phrases else None
            if (
                last is not None and last.clock is None and last.exact is None
                and _DATE_CLOCK_GAP.fullmatch(low, last.end, start)
            ):  # fmt: skip
                last.clock, last.end = clock, end
                continue
            phrase = _Phrase(start, end, clock=clock)
            phrases.append(phrase)
            pending_clock = phrase
            continue
        phrase = _date_phrase(g, base, created)
        if phrase is None:
            continue
        phrase.start, phrase.end = start, end
        if (
            pending_clock is not None and phrases and phrases[-1] is pending_clock
            and phrase.exact is None and _CLOCK_DATE_GAP.fullmatch(low, pending_clock.end, start)
        ):  # fmt: skip
            pending_clock.day, pending_clock.part, pending_clock.end = phrase.day, None, end
            pending_clock.same_day = phrase.same_day
            pending_clock = None
            continue
        pending_clock = None
        phrases.append(phrase)
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
            start, start + len(phrase_text), day=day,
            clock=(when.hour, when.minute) if has_clock else None,
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


def _instant(phrase: _Phrase, zone: tzinfo, created: datetime, low: str) -> tuple[datetime, bool]:
    """The phrase as an aware datetime plus whether the reading needs review."""
    if phrase.exact is not None:
        return phrase.exact, False
    local_now = created.astimezone(zone)
    base = local_now.date()
    if phrase.day is None:  # clock alone: today, or the next day if today's has passed
        hour, minute = phrase.clock
        at = datetime.combine(base, time(hour, minute), tzinfo=zone)
        if at < created and _PAST_CUE.search(low) is None:
            return datetime.combine(base + timedelta(days=1), time(hour, minute), tzinfo=zone), True
        return at, False
    if phrase.clock is not None:
        return datetime.combine(phrase.day, time(*phrase.clock), tzinfo=zone), False
    if phrase.same_day is not None:
        # "today"/"tonight" without a clock: later the same day, so 0 <= h < 24.
        hour = _PART_HOURS.get(phrase.part or "", 12)
        at = datetime.combine(phrase.day, time(hour, 0), tzinfo=zone)
        return max(at, created), False
    hour = _PART_HOURS.get(phrase.part or "", 12)
    at = datetime.combine(phrase.day, time(hour, 0), tzinfo=zone)
    # An unknown time on the next day may fall on either side of 24 h.
    return at, phrase.day == base + timedelta(days=1)


def _pick_existing(phrases: list[_Phrase], low: str) -> tuple[_Phrase, bool]:
    """The first phrase that refers to an existing appointment, and whether that was unclear."""
    if len(phrases) == 1:
        return phrases[0], False
    for phrase in phrases:
        before = low[max(0, phrase.start - 30) : phrase.start]
        if _TARGET_BEFORE.search(before):
            continue
        if _EXISTING_BEFORE.search(before) or _EXISTING_AFTER.match(low, phrase.end):
            return phrase, False
    candidates = [
        p for p in phrases if not _TARGET_BEFORE.search(low[max(0, p.start - 30) : p.start])
    ]
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
        The appointment time and whether it needs review, or None when the text names no time.
    """
    prepared = prepare_text(text) if isinstance(text, str) else text
    if not has_time_words(prepared):
        return None
    low = prepared.low
    zone = resolve_zone(created_at, zone)
    base = created_at.astimezone(zone).date()
    phrases = _find_phrases(low, base, created_at)
    _add_fallback(phrases, low, base, created_at)
    if not phrases:
        return None
    phrase, unclear = _pick_existing(phrases, low)
    try:
        at, review = _instant(phrase, zone, created_at, low)
    except (OverflowError, ValueError):  # dates at the edge of the calendar
        return None
    return TextTime(at=at, needs_review=unclear or review)


def _wait_anchor(g: dict, base: date) -> date | None:
    """The day an unanswered message was sent, from a 'since Monday'-style match."""
    name = g["swd"] or g["owd"] or (g["lwd"].split()[-1] if g["lwd"] else None)
    if name is not None:
        weekday = _WEEKDAYS[name[:3]]
        return base - timedelta(days=(base.weekday() - weekday) % 7 or 7)
    if g["yest"] is not None or g["srel"] == "yesterday":
        return base - timedelta(days=1)
    if g["lweek"] is not None or g["srel"] == "last week":
        return base - timedelta(days=7)
    if g["smon"] is not None:
        return _nearest_date(base, _MONTHS[g["smon"][:3]], int(g["sday"]))
    if g["snm"] is not None and 1 <= int(g["snm"]) <= 12:
        return _nearest_date(base, int(g["snm"]), int(g["snd"]))
    return None


def find_wait_hours(
    text: str | PreparedText, created_at: datetime, zone: tzinfo | None = None
) -> float | None:
    """Read how long the client has waited for the provider's reply, from the text.

    Only sentences with a waiting cue ("no reply", "wrote her", "haven't heard back") count.
    A day without a time ("I wrote her on Saturday") is read at 12:00 in the client's zone.
    When several spans are found the longest wait is used: it is the first, unanswered message.

    Args:
        text: the ticket text, or the same from ``prepare_text``.
        created_at: when the ticket was made (aware).
        zone: the ticket's ``timezone`` field, if any.

    Returns:
        Hours waited, or None when the text states no unanswered message.
    """
    prepared = prepare_text(text) if isinstance(text, str) else text
    low = prepared.low
    if (
        _WAIT_WORDS.isdisjoint(prepared.words)
        or _WAIT_SPAN_HINT.search(low) is None
        or _WAIT_CUE.search(low) is None
    ):
        return None
    zone = resolve_zone(created_at, zone)
    base = created_at.astimezone(zone).date()
    best: float | None = None
    for sentence in _SENTENCE.finditer(low):
        chunk = sentence.group()
        if _WAIT_CUE.search(chunk) is None:
            continue
        for match in _WAIT_SPAN.finditer(chunk):
            g = match.groupdict()
            if g["num"] is not None:
                hours = _number(g["num"]) * _UNIT_HOURS[g["unit"][0]]
            else:
                day = _wait_anchor(g, base)
                if day is None:
                    continue
                sent = datetime.combine(day, time(12, 0), tzinfo=zone)
                hours = elapsed_hours(sent, created_at)
            if hours >= 0 and (best is None or hours > best):
                best = hours
    return best
