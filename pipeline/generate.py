"""Seeded generator of realistic help-desk tickets from the hand-written phrasebank.

Each ticket starts from one phrasing (its *family*), gets its slots filled, and is then dressed the way
people really write: greetings and sign-offs, background sentences, a short second topic, typos, all
lowercase or ALL CAPS, dropped articles. The timing fields are filled in realistic proportions.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.phrasebank import BY_CATEGORY
from serving.tickets import INPUT_FIELDS

COLUMNS: tuple[str, ...] = (*INPUT_FIELDS, "category", "intent", "family")
CATEGORY_SHARE = {"clinical": 0.26, "scheduling": 0.26, "billing": 0.18, "technical": 0.15, "account": 0.15}
# Crisis messages are rare in a real inbox; the rest of an intent mix is even within a category.
INTENT_WEIGHT = {"crisis": 0.25}
PAST_SESSION = {"provider_no_show", "missed_own_session"}

ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Phoenix", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico",
)
PROVIDERS = (
    "Dr. Patel", "my therapist", "Maria", "Dr. Nguyen", "my counselor", "my psychiatrist", "Dr. Okafor",
    "Sam", "my provider", "Dr. Schmidt", "Jess", "Dr. Alvarez", "my therapist Karen", "Dr. Kim",
    "Mr. Brooks", "my doctor", "Dr. Haddad", "Leah",
)
MEDS = (
    "sertraline", "my Lexapro", "Zoloft", "bupropion", "Wellbutrin", "my Adderall", "lamotrigine",
    "fluoxetine", "Prozac", "my meds", "trazodone", "buspirone", "escitalopram", "my Vyvanse", "hydroxyzine",
)
INSURERS = (
    "Aetna", "Blue Cross", "Cigna", "UnitedHealthcare", "Kaiser", "Humana", "Medicaid", "Anthem",
    "Optum", "Tricare", "BCBS", "Medicare",
)
APPS = ("the app", "the portal", "the website", "your app", "the iPhone app", "the android app", "the site")
WAITS = (
    "3 days", "a week", "since Monday", "two days", "over 48 hours", "5 days", "since last Friday",
    "four days", "almost a week", "2 days",
)
AMOUNTS = (25, 30, 40, 45, 60, 65, 75, 90, 99, 120, 150, 175, 200, 240)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec")
CLOCKS = ("at 3pm", "at 10:30am", "at 4", "at noon", "at 9am", "at 5:30", "at 11", "at 2 pm", "at 6:15pm", "at 8am")

GREETINGS = (
    "Hi,", "Hello,", "Hi there,", "Hello team,", "Dear Support,", "hey", "Good morning,", "Hi support team,",
    "Good afternoon,", "To whom it may concern,", "Hello!", "hi guys", "Dear Sir or Madam,", "Hey there,",
)
SIGN_OFFS = (
    "Thanks,", "Thank you!", "Best regards,", "thx", "Thanks in advance.", "Regards,", "Sincerely,",
    "Appreciate it.", "Thanks so much", "Cheers,", "Sent from my iPhone", "ty", "Kind regards,",
)
NAMES = ("Anna", "J.", "Mike", "Priya", "Carlos", "Tom", "Lisa M.", "Dee", "Kevin", "Fatima", "Rob", "Chen")
BACKGROUND = (
    "I've been a client here for about a year.",
    "I'm pretty new to the platform.",
    "Sorry if this is the wrong place to ask.",
    "I tried looking in the help center first but couldn't find an answer.",
    "This is my second time writing about this.",
    "I'm writing on behalf of my teenage daughter.",
    "Not sure who handles this.",
    "I don't usually write in, but I need some help.",
    "English is not my first language, sorry for mistakes.",
    "I'm on my phone so excuse typos.",
    "Quick question.",
    "I work nights so email is easiest for me.",
    "Please get back to me when you can.",
    "I hope this makes sense.",
    "It's been a stressful week.",
    "My husband and I share this email.",
)
SUBJECTS = ("Question", "Help please", "urgent", "Need help", "Re: your message", "Follow up", "Issue", "request")
ARTICLE_RE = re.compile(r"\b(the|a|an) ", re.IGNORECASE)


def _format_when(rng: random.Random) -> str:
    """A time expression of the kinds clients write ("tomorrow at 3pm", "on Dec 3 at 2pm", "tonight")."""
    kind = rng.random()
    clock = rng.choice(CLOCKS)
    if kind < 0.25:
        return f"tomorrow {clock}" if rng.random() < 0.8 else "tomorrow morning"
    if kind < 0.40:
        return rng.choice(("tonight", f"today {clock}", "this afternoon", f"later today {clock}"))
    if kind < 0.65:
        day = rng.choice(WEEKDAYS)
        prefix = rng.choice(("on ", "this ", "next ", ""))
        return f"{prefix}{day} {clock}" if rng.random() < 0.7 else f"{prefix}{day}"
    if kind < 0.80:
        return f"on {rng.choice(MONTHS)} {rng.randint(1, 28)} {clock}"
    if kind < 0.90:
        return f"on {rng.randint(1, 12)}/{rng.randint(1, 28):02d}"
    return rng.choice(("in 2 hours", "in an hour", "in 3 hours", "in 30 minutes"))


def _fill_slots(phrasing: str, rng: random.Random) -> str:
    """Fill the phrasebank slots with everyday values."""
    return phrasing.format(
        provider=rng.choice(PROVIDERS),
        when=_format_when(rng),
        waited=rng.choice(WAITS),
        amount=f"${rng.choice(AMOUNTS)}" if rng.random() < 0.8 else f"{rng.choice(AMOUNTS)} dollars",
        med=rng.choice(MEDS),
        insurer=rng.choice(INSURERS),
        app=rng.choice(APPS),
    )


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(len(word) - 1)
    kind = rng.random()
    if kind < 0.4:  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.7:  # drop one
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # double one


def _add_typos(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(words))
        words[i] = _typo(words[i], rng)
    return " ".join(words)


def _dress(body: str, rng: random.Random, second_topic: str | None) -> str:
    """Wrap a request the way people send it: greeting, background, second topic, sign-off, noise."""
    parts: list[str] = []
    if rng.random() < 0.05:
        parts.append(f"Subject: {rng.choice(SUBJECTS)}")
    if rng.random() < 0.4:
        parts.append(rng.choice(GREETINGS))
    if rng.random() < 0.15:
        parts.append(rng.choice(BACKGROUND))
    parts.append(body)
    if second_topic:
        parts.append(rng.choice(("Also, ", "One more thing: ", "PS ", "And ")) + second_topic[0].lower() + second_topic[1:])
    if rng.random() < 0.3:
        sign = rng.choice(SIGN_OFFS)
        parts.append(f"{sign}\n{rng.choice(NAMES)}" if sign.endswith(",") else sign)
    sep = "\n\n" if rng.random() < 0.5 else " "
    text = sep.join(parts)
    roll = rng.random()
    if roll < 0.10:
        text = text.lower()
    elif roll < 0.13:
        text = text.upper()
    elif roll < 0.17:
        text = text.translate(str.maketrans("", "", ".,!?;:'"))
    if rng.random() < 0.05:
        text = ARTICLE_RE.sub("", text)
    if rng.random() < 0.15:
        text = _add_typos(text, rng)
    return text


def _iso(moment: datetime, rng: random.Random, zone: ZoneInfo) -> str:
    """An ISO 8601 timestamp, mostly with an offset, sometimes naive (read in the ticket's zone)."""
    local = moment.astimezone(zone)
    roll = rng.random()
    if roll < 0.55:
        return local.isoformat(timespec="seconds")
    if roll < 0.85:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.replace(tzinfo=None).isoformat(timespec="minutes")


class TicketGenerator:
    """Draws tickets; the same seed gives the same tickets."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.categories = list(CATEGORY_SHARE)
        self.category_weights = [CATEGORY_SHARE[c] for c in self.categories]
        self.intents = {c: sorted(BY_CATEGORY[c]) for c in self.categories}
        self.intent_weights = {c: [INTENT_WEIGHT.get(i, 1.0) for i in self.intents[c]] for c in self.categories}
        # Short, timeless phrasings can ride along as a second topic in another category's ticket.
        self.asides = {
            c: [p for i in self.intents[c] if i != "crisis" for p in BY_CATEGORY[c][i] if len(p.split()) <= 12 and "{when}" not in p]
            for c in self.categories
        }
        self.start = datetime(2026, 1, 5, tzinfo=timezone.utc)
        self.span_s = int(timedelta(days=320).total_seconds())

    def ticket(self, number: int) -> dict[str, str]:
        """One ticket as a row of strings (empty string = absent)."""
        rng = self.rng
        category = rng.choices(self.categories, self.category_weights)[0]
        intent = rng.choices(self.intents[category], self.intent_weights[category])[0]
        phrasings = BY_CATEGORY[category][intent]
        index = rng.randrange(len(phrasings))
        phrasing = phrasings[index]
        aside = None
        if rng.random() < 0.08 and len(phrasing.split()) > 12:
            other = rng.choice([c for c in self.categories if c != category])
            aside = _fill_slots(rng.choice(self.asides[other]), rng)
        text = _dress(_fill_slots(phrasing, rng), rng, aside)

        zone_name = rng.choice(ZONES)
        zone = ZoneInfo(zone_name)
        created = self.start + timedelta(seconds=rng.randrange(self.span_s))
        created = created.replace(microsecond=0)
        appointment = awaiting = emergency = ""
        mentions_time = "{when}" in phrasing
        if category == "scheduling" and not mentions_time and rng.random() < 0.6:
            # The help desk links most scheduling tickets to a booking; a missed session lies in the past.
            if intent in PAST_SESSION:
                hours = rng.uniform(-72, -0.5)
            else:
                hours = rng.choice((rng.uniform(0, 24), rng.uniform(24, 240), rng.uniform(-48, 0)))
            appointment = _iso(created + timedelta(hours=hours), rng, zone)
        elif rng.random() < 0.04:
            appointment = _iso(created + timedelta(hours=rng.uniform(-24, 200)), rng, zone)
        if category in ("clinical", "billing") and rng.random() < 0.15:
            awaiting = _iso(created - timedelta(hours=rng.uniform(1, 140)), rng, zone)
        if intent == "emergency_cancel" and rng.random() < 0.4:
            emergency = rng.choice(("true", "True", "1", "yes"))
        elif rng.random() < 0.03:
            emergency = rng.choice(("false", "0", "no"))
        return {
            "ticket_id": f"T{number:07d}",
            "text": text,
            "created_at": _iso(created, rng, zone),
            "appointment_at": appointment,
            "awaiting_provider_since": awaiting,
            "emergency": emergency,
            "timezone": zone_name if rng.random() < 0.7 else "",
            "category": category,
            "intent": intent,
            "family": f"{intent}/{index}",
        }

    def tickets(self, n: int) -> Iterator[dict[str, str]]:
        """``n`` tickets, numbered from 1."""
        for number in range(1, n + 1):
            yield self.ticket(number)


def generate_tickets(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Generate ``n`` tickets in memory.

    Args:
        n: how many tickets.
        seed: random seed; the same seed gives the same tickets.

    Returns:
        Rows of strings with the columns of ``COLUMNS``.
    """
    return list(TicketGenerator(seed).tickets(n))


def write_tickets(path: Path, n: int, seed: int = 0) -> Path:
    """Stream ``n`` generated tickets to a CSV, JSON Lines or Parquet file chosen by extension.

    Args:
        path: output file (.csv, .jsonl or .parquet).
        n: how many tickets.
        seed: random seed.

    Returns:
        The path written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = TicketGenerator(seed).tickets(n)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        return path
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    if suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"output: unknown extension {path.suffix!r}; use .csv, .jsonl or .parquet")
    return path


