"""Ticket validation shared by every surface (CONTRACT.md sections 1 and 5).

``parse_ticket`` runs once per batch row, so it avoids pydantic and does the few checks by
hand with ``datetime.fromisoformat`` and a cached ``ZoneInfo`` lookup. Error messages name the
field and the problem and never echo any value: the ticket text is health information, and a
value in a wrong column could be text too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_TEXT_CHARS = 20_000
INPUT_FIELDS: tuple[str, ...] = (
    "ticket_id",
    "text",
    "created_at",
    "appointment_at",
    "awaiting_provider_since",
    "emergency",
    "timezone",
)
# The one example ticket of the API's OpenAPI schema and the registered model's input example.
EXAMPLE_TICKET: dict[str, str] = {
    "ticket_id": "T-1001",
    "text": "I need to cancel my session today at 3pm, my mother was taken to the hospital.",
    "created_at": "2026-03-02T09:00:00-05:00",
    "timezone": "America/New_York",
}
# Timestamps outside this range are typos, and keeping them out means the timing arithmetic
# (and the zone conversions in serving.rules.timetext) can never overflow.
MIN_YEAR = 1900
MAX_YEAR = 2199

# The longest ticket id echoed in an error: a longer "id" is more likely text in the wrong column.
MAX_ECHO_ID_CHARS = 200
# A lone surrogate (JSON ``"\ud800"``, or an invalid byte decoded with ``surrogateescape``) is not a
# character: it cannot be encoded as UTF-8, so it can be neither scored nor written out.
NOT_UNICODE = "contains a lone surrogate code point (U+D800..U+DFFF), which is not valid Unicode"

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_ISO_HINT = "expected an ISO 8601 timestamp such as 2024-03-09T14:30:00-05:00"


class TicketError(ValueError):
    """A ticket field is missing or invalid. The message names the field, never the ticket text."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(slots=True)
class Ticket:
    """One validated ticket. Every datetime is timezone-aware.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which costs
    about a microsecond per ticket; nothing mutates or hashes tickets.
    """

    text: str
    created_at: datetime
    ticket_id: str | None = None
    appointment_at: datetime | None = None
    awaiting_provider_since: datetime | None = None
    emergency: bool | None = None
    timezone: ZoneInfo | None = None


def is_absent(value: Any) -> bool:
    """Tell whether an optional field value counts as not given.

    Args:
        value: the raw value.

    Returns:
        True for None, NaN (float, numpy, pandas NA/NaT) and blank strings.
    """
    if value is None:
        return True
    kind = type(value)
    if kind is str:
        return not value or value.isspace()
    if kind is float:
        return value != value
    if kind is bool or kind is int or kind is datetime:
        return False
    # pandas.NA and NaT have no common base class worth importing pandas for.
    if kind.__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def has_surrogate(value: str) -> bool:
    """Tell whether a string holds a lone surrogate, which no UTF-8 writer or tokenizer accepts."""
    if value.isascii():  # the common case, answered without looking at each character
        return False
    try:
        value.encode("utf-8")  # strict UTF-8 fails on surrogates and nothing else; far faster than a regex
    except UnicodeEncodeError:
        return True
    return False


def _refuse_surrogates(value: str, field: str) -> None:
    """Name a lone surrogate as the problem of a value (batch says the same)."""
    if has_surrogate(value):
        raise TicketError(field, NOT_UNICODE)


@lru_cache(maxsize=1024)
def _load_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_zone(value: Any, field: str = "timezone") -> ZoneInfo:
    """Check an IANA time-zone name.

    Args:
        value: a name such as ``America/New_York`` or a ``ZoneInfo``.
        field: the field name used in errors.

    Returns:
        The zone.

    Raises:
        TicketError: when the value is not a known IANA zone name.
    """
    if type(value) is not str:
        if isinstance(value, ZoneInfo):
            return value
        if not isinstance(value, str):
            raise TicketError(field, "must be an IANA time-zone name such as America/New_York")
    try:
        return _load_zone(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError/OSError: names like "../x" or "a\x00b" that are not even valid keys.
        _refuse_surrogates(value, field)
        raise TicketError(field, "unknown IANA time-zone name (e.g. America/New_York)") from None


def parse_timestamp(value: Any, field: str, zone: ZoneInfo | None) -> datetime:
    """Read one ISO 8601 timestamp; naive ones are read in ``zone`` (UTC when None).

    Args:
        value: a string, ``datetime`` or pandas ``Timestamp``.
        field: the field name used in errors.
        zone: the client's zone for timestamps without an offset.

    Returns:
        A timezone-aware datetime.

    Raises:
        TicketError: when the value is not an ISO 8601 timestamp in the supported range.
    """
    kind = type(value)
    if kind is str:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            _refuse_surrogates(value, field)
            raise TicketError(field, f"not a valid timestamp; {_ISO_HINT}") from None
        if parsed.tzinfo is None:
            # The common batch case: a naive string. The constructor is several times faster
            # than ``replace(tzinfo=...)`` on CPython 3.11 (fromisoformat always gives fold=0).
            if not MIN_YEAR <= parsed.year <= MAX_YEAR:
                raise TicketError(field, f"year must be between {MIN_YEAR} and {MAX_YEAR}")
            return datetime(
                parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute,
                parsed.second, parsed.microsecond, zone or UTC,
            )  # fmt: skip
    elif isinstance(value, datetime):
        # pandas.Timestamp is a datetime subclass; hand on a plain datetime.
        parsed = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    elif kind.__name__ == "datetime64":
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise TicketError(field, f"not a valid timestamp; {_ISO_HINT}") from None
    else:
        raise TicketError(field, f"must be a timestamp string; {_ISO_HINT}")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise TicketError(field, f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone or UTC)
    return parsed


def parse_bool(value: Any, field: str) -> bool:
    """Read a boolean strictly.

    Args:
        value: a bool, 0/1 or one of the strings true/false, 1/0, yes/no (any case).
        field: the field name used in errors.

    Returns:
        The boolean.

    Raises:
        TicketError: for anything else.
    """
    if value is True or value is False:
        return value
    kind = type(value)
    if kind.__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()  # numpy bool/int/float scalars from DataFrame rows
        if value is True or value is False:
            return value
        kind = type(value)
    if kind is str:
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        _refuse_surrogates(value, field)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # CSV readers turn a 0/1 column with gaps into floats.
        if value == 1:
            return True
        if value == 0:
            return False
    raise TicketError(field, "must be a boolean: true/false, yes/no or 1/0")


def parse_ticket_id(value: Any) -> str:
    """Check a ticket id: a string or a number (``12.0`` from a CSV float column becomes ``"12"``).

    Args:
        value: the raw id.

    Returns:
        The id as a string.

    Raises:
        TicketError: for objects, lists and booleans (they could hold text, and an id is echoed
            back) and for strings that are not valid Unicode.
    """
    if type(value) is str:
        _refuse_surrogates(value, "ticket_id")
        return value.strip()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, numbers.Number) and not isinstance(value, bool | complex):
        # int, numpy and Decimal numbers; a whole number reads the same whatever its type.
        if isinstance(value, numbers.Integral) or (
            isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()
        ):
            return str(int(value))
        return str(value)
    if isinstance(value, str):  # str subclasses
        return parse_ticket_id(str(value))
    raise TicketError("ticket_id", "must be a string or a number")


def echo_id(value: Any) -> str | None:
    """The id of a rejected ticket as it may be echoed in an error or a rejects file, else None.

    Only a valid id of at most ``MAX_ECHO_ID_CHARS`` characters is echoed: anything else could be
    ticket text in the wrong field.

    Args:
        value: the raw id.

    Returns:
        The id, or None when absent or not safe to echo.
    """
    if value is None or is_absent(value):
        return None
    try:
        ticket_id = parse_ticket_id(value)
    except TicketError:
        return None
    return ticket_id if 0 < len(ticket_id) <= MAX_ECHO_ID_CHARS else None


def parse_text(value: Any) -> str:
    """Check the ticket text: a string of 1..MAX_TEXT_CHARS characters after trimming.

    Args:
        value: the raw text.

    Returns:
        The trimmed text.

    Raises:
        TicketError: when missing, not a string, not valid Unicode, empty or too long (the text
            is never echoed).
    """
    if value is None or (type(value) is not str and is_absent(value)):
        raise TicketError("text", "is required")
    if not isinstance(value, str):
        raise TicketError("text", "must be a string")
    _refuse_surrogates(value, "text")
    text = value.strip()
    if not text:
        raise TicketError("text", "is empty after trimming whitespace")
    if len(text) > MAX_TEXT_CHARS:
        raise TicketError(
            "text", f"is {len(text)} characters after trimming; at most {MAX_TEXT_CHARS} allowed"
        )
    return text


def parse_ticket(raw: Mapping[str, Any], *, now: datetime | None = None) -> Ticket:
    """Validate one raw ticket (API body, batch row, notebook dict).

    Args:
        raw: field name to value; values may be strings (batch files) or typed (JSON).
            Missing, None, NaN and empty-string optional fields count as absent.
        now: the default ``created_at``; the current UTC time when None.

    Returns:
        The validated ticket.

    Raises:
        TicketError: naming the first invalid field and the problem.
    """
    # A dict skips the ABC isinstance check, which is slow next to the rest of this function.
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise TicketError("ticket", "must be an object of field names to values")
    get = raw.get
    text = parse_text(get("text"))

    # ``value is None or`` spares the common missing field a call to is_absent.
    value = get("timezone")
    zone = None if value is None or is_absent(value) else parse_zone(value)

    value = get("ticket_id")
    ticket_id = None if value is None or is_absent(value) else parse_ticket_id(value)

    value = get("created_at")
    if value is None or is_absent(value):
        if now is None:
            created_at = datetime.now(UTC)
        else:
            created_at = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    else:
        created_at = parse_timestamp(value, "created_at", zone)

    value = get("appointment_at")
    appointment_at = (
        None
        if value is None or is_absent(value)
        else parse_timestamp(value, "appointment_at", zone)
    )

    value = get("awaiting_provider_since")
    awaiting = (
        None
        if value is None or is_absent(value)
        else parse_timestamp(value, "awaiting_provider_since", zone)
    )

    value = get("emergency")
    emergency = None if value is None or is_absent(value) else parse_bool(value, "emergency")

    # Positional, in field order (keyword arguments cost noticeably more per ticket).
    return Ticket(text, created_at, ticket_id, appointment_at, awaiting, emergency, zone)
