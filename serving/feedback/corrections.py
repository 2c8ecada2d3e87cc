"""One agent's correction of a decision, validated with the ticket checks of ``serving.tickets``.

Errors are ``TicketError``: they name the field and the problem and never echo a value, since the
text is health information and a value in the wrong field could be text too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from serving.decision import CATEGORIES, ROUTES, RULE_IDS
from serving.tickets import TicketError, is_absent, parse_text, parse_ticket_id, parse_timestamp

MAX_ID_CHARS = 200
MAX_INTENT_CHARS = 100


@dataclass(frozen=True, slots=True)
class Correction:
    """What an agent says a decision should have been.

    Attributes:
        ticket_id: the desk's id of the ticket.
        text: the ticket text the decision was made on.
        category: the right category.
        intent: the right intent, when the agent gives one.
        route: the right route, when it differs from the decision's.
        rule_id: the rule that should have applied.
        agent: who corrected it (an id, not a name, ideally).
        created_at: when the ticket was written (timezone-aware), when known.
    """

    ticket_id: str
    text: str
    category: str
    intent: str | None = None
    route: str | None = None
    rule_id: str | None = None
    agent: str | None = None
    created_at: datetime | None = None


CORRECTION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Correction))


def _choice(value: Any, field: str, allowed: tuple[str, ...], required: bool) -> str | None:
    if value is None or is_absent(value):
        if required:
            raise TicketError(field, "is required")
        return None
    if not isinstance(value, str) or value.strip() not in allowed:
        raise TicketError(field, f"unknown {field}; expected one of {', '.join(allowed)}")
    return value.strip()


def _short(value: Any, field: str, limit: int) -> str | None:
    if value is None or is_absent(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TicketError(field, "must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise TicketError(field, f"is {len(text)} characters; at most {limit} allowed")
    return text


def parse_correction(raw: Mapping[str, Any]) -> Correction:
    """Validate one correction (API body, import row) like a ticket.

    Args:
        raw: field name to value; missing, None, NaN and blank optional fields count as absent.

    Returns:
        The validated correction.

    Raises:
        TicketError: naming the first invalid field (``ticket_id``, ``text``, ``category``...) and the problem.
    """
    if not isinstance(raw, Mapping):
        raise TicketError("feedback", "must be an object of field names to values")
    value = raw.get("ticket_id")
    if value is None or is_absent(value):
        raise TicketError("ticket_id", "is required")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TicketError("ticket_id", "must be a string")
    ticket_id = parse_ticket_id(value)
    if len(ticket_id) > MAX_ID_CHARS:
        raise TicketError("ticket_id", f"is {len(ticket_id)} characters; at most {MAX_ID_CHARS} allowed")
    text = parse_text(raw.get("text"))
    category = _choice(raw.get("category"), "category", CATEGORIES, required=True)
    route = _choice(raw.get("route"), "route", ROUTES, required=False)
    rule_id = _choice(raw.get("rule_id"), "rule_id", RULE_IDS, required=False)
    intent = _short(raw.get("intent"), "intent", MAX_INTENT_CHARS)
    agent = _short(raw.get("agent"), "agent", MAX_ID_CHARS)
    value = raw.get("created_at")
    created_at = None if value is None or is_absent(value) else parse_timestamp(value, "created_at", None)
    return Correction(ticket_id, text, category, intent, route, rule_id, agent, created_at)
