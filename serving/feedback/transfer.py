"""Corrections as files: ``triage feedback export`` and ``triage feedback import``.

Files are CSV, JSON Lines or Parquet (by extension) with the columns of ``EXPORT_COLUMNS``; read by the
one table reader (``serving.batch.io.read_table``) and written privately (0600), since they hold ticket
text. An import is all or nothing: every row is checked first, and one bad row stores none.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from serving.batch.io import BatchFileError, read_table, write_table
from serving.feedback.corrections import Correction, parse_correction
from serving.feedback.store import EXPORT_COLUMNS, FeedbackStore
from serving.tickets import TicketError, is_absent, parse_timestamp

_FEEDBACK_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_MAX_ERRORS_SHOWN = 10


class FeedbackFileError(ValueError):
    """A corrections file cannot be read or has invalid rows; the message names rows and fields only."""


def export_corrections(store: FeedbackStore, path: Path) -> int:
    """Write every stored correction to ``path``, oldest first.

    Returns:
        How many were written.

    Raises:
        FeedbackFileError: for an unknown extension.
    """
    rows = store.rows()
    for row in rows:
        for name in ("created_at", "received_at"):
            if isinstance(row[name], datetime):
                row[name] = row[name].isoformat()
    table = pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.string()) for name in EXPORT_COLUMNS]))
    try:
        write_table(table, Path(path))
    except BatchFileError as error:
        raise FeedbackFileError(str(error)) from None
    return len(rows)


def _stored_fields(record: dict[str, Any]) -> tuple[str | None, datetime | None]:
    """The optional ``feedback_id`` and ``received_at`` of an exported row."""
    value = record.get("feedback_id")
    feedback_id = None
    if value is not None and not is_absent(value):
        if not isinstance(value, str) or not _FEEDBACK_ID.match(value.strip()):
            raise TicketError("feedback_id", "must be 1 to 32 letters, digits, '-' or '_'")
        feedback_id = value.strip()
    value = record.get("received_at")
    received_at = None if value is None or is_absent(value) else parse_timestamp(value, "received_at", None)
    return feedback_id, received_at


def read_corrections(path: Path) -> list[tuple[Correction, str | None, datetime | None]]:
    """Read and check a corrections file.

    Returns:
        (correction, feedback_id or None, received_at or None) per row, in file order.

    Raises:
        FeedbackFileError: the file cannot be read or a row is invalid (up to ten listed, by row number).
    """
    path = Path(path)
    if not path.exists():
        raise FeedbackFileError(f"{path}: no such file")
    try:
        frame, bad = read_table(path)
    except BatchFileError as error:
        raise FeedbackFileError(f"{path}: {error}") from None
    problems = {row: f"{field}: {problem}" for row, (field, problem) in bad.items()}
    # read_table leaves unreadable rows out; the others keep their places in between.
    numbers = [n for n in range(1, len(frame) + len(bad) + 1) if n not in bad]
    items = []
    for number, record in zip(numbers, frame.to_dict("records")):
        try:
            items.append((parse_correction(record), *_stored_fields(record)))
        except TicketError as error:
            problems[number] = str(error)
    if problems:
        shown = "; ".join(f"row {row}: {problem}" for row, problem in sorted(problems.items())[:_MAX_ERRORS_SHOWN])
        raise FeedbackFileError(f"{path}: {len(problems)} invalid row(s), nothing imported: {shown}")
    return items


def import_corrections(store: FeedbackStore, path: Path) -> tuple[int, int]:
    """Check every row of ``path``, then store them all in one transaction.

    Rows whose ``feedback_id`` is already stored are skipped, so importing an export again adds nothing.

    Returns:
        (added, skipped).

    Raises:
        FeedbackFileError: the file cannot be read or a row is invalid; nothing is stored then.
    """
    return store.add_many(read_corrections(path))
