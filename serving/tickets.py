"""Ticket validation shared by every surface (CONTRACT.md sections 1 and 5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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


class TicketError(ValueError):
    """A ticket field is missing or invalid. The message names the field, never the ticket text."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Ticket:
    """One validated ticket. Every datetime is timezone-aware."""

    text: str
    created_at: datetime
    ticket_id: str | None = None
    appointment_at: datetime | None = None
    awaiting_provider_since: datetime | None = None
    emergency: bool | None = None
    timezone: ZoneInfo | None = None


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
    raise NotImplementedError  # implemented by the routing-engine work (issue 3)
