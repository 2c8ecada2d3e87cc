"""The one scoring path: validate tickets, classify their texts in one call, apply the routing rules.

The API, batch scoring, Spark, the MLflow pyfunc and the notebooks are thin wrappers around
``score_batch`` / ``score_frame``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from serving.model.classifier import TicketClassifier
from serving.decision import DECISION_COLUMNS, Decision
from serving.rules.routing import decide
from serving.tickets import INPUT_FIELDS, Ticket, TicketError, is_absent, parse_ticket

ERROR_COLUMN = "error"


def score_batch(
    classifier: TicketClassifier, rows: Sequence[Mapping[str, Any]], *, now: datetime | None = None
) -> list[Decision | TicketError]:
    """Score raw tickets, keeping their order.

    Args:
        classifier: the loaded model.
        rows: raw tickets (API bodies, batch rows).
        now: the default ``created_at`` for rows without one; the current time when None.

    Returns:
        For each row, its ``Decision`` or the ``TicketError`` that rejected it.
    """
    now = now or datetime.now(timezone.utc)
    parsed: list[Ticket | TicketError] = []
    for row in rows:
        try:
            parsed.append(parse_ticket(row, now=now))
        except TicketError as error:
            parsed.append(error)
    valid = [t for t in parsed if isinstance(t, Ticket)]
    predictions = iter(classifier.predict([t.text for t in valid]))
    return [decide(t, next(predictions)) if isinstance(t, Ticket) else t for t in parsed]


def score_one(classifier: TicketClassifier, row: Mapping[str, Any], *, now: datetime | None = None) -> Decision:
    """Score one raw ticket.

    Raises:
        TicketError: when the ticket is invalid.
    """
    result = score_batch(classifier, [row], now=now)[0]
    if isinstance(result, TicketError):
        raise result
    return result


def score_frame(classifier: TicketClassifier, frame: pd.DataFrame, *, now: datetime | None = None) -> pd.DataFrame:
    """Score a frame of tickets into a frame of decisions, one row per input row, same order.

    Rejected rows keep their ``ticket_id`` and carry the reason in the ``error`` column; their decision
    columns are empty.

    Args:
        classifier: the loaded model.
        frame: a column per contract input field that is present (``text`` required).
        now: the default ``created_at``.

    Returns:
        ``DECISION_COLUMNS`` plus ``error``.
    """
    columns = [c for c in INPUT_FIELDS if c in frame.columns]
    # NaN, None and pandas' NA all count as absent in parse_ticket, so values go through as read.
    rows = [dict(zip(columns, values)) for values in frame[columns].itertuples(index=False, name=None)]
    records = []
    for row, result in zip(rows, score_batch(classifier, rows, now=now)):
        if isinstance(result, TicketError):
            record = dict.fromkeys(DECISION_COLUMNS)
            ticket_id = row.get("ticket_id")
            record["ticket_id"] = None if is_absent(ticket_id) else str(ticket_id)
            record[ERROR_COLUMN] = str(result)
        else:
            record = result.to_row()
            record[ERROR_COLUMN] = None
        records.append(record)
    return pd.DataFrame.from_records(records, columns=[*DECISION_COLUMNS, ERROR_COLUMN])
