"""The corrections database: SQLAlchemy 2 over any URL, the schema created and migrated by Alembic.

``sqlite:///triage.db`` (a file in the working folder) by default, PostgreSQL or any other SQLAlchemy
URL through ``TRIAGE_DATABASE_URL``. The rows hold ticket text, so:

- a new SQLite file is created readable and writable by its owner only (0600); SQLite gives its
  journal and WAL files the database file's permissions;
- the engine hides bound parameters (``hide_parameters``), so no SQL error or log line can carry a
  value, and ``FeedbackStoreError`` names only the kind of failure.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, String, Text, create_engine, delete, event, func, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from serving.decision import CATEGORIES
from serving.feedback.corrections import Correction

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The columns of an export file, in order: the correction's fields, then the store's own two.
EXPORT_COLUMNS: tuple[str, ...] = (
    "feedback_id", "ticket_id", "text", "category", "intent", "route", "rule_id", "agent", "created_at", "received_at",
)  # fmt: skip


class FeedbackStoreError(RuntimeError):
    """The corrections database cannot be reached or used; the message names no value."""


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset and gives naive values back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Metadata of the store (Alembic's ``target_metadata``)."""


class CorrectionRow(Base):
    """One stored correction (migration ``0001``)."""

    __tablename__ = "corrections"

    feedback_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20))
    intent: Mapped[str | None] = mapped_column(String(100))
    route: Mapped[str | None] = mapped_column(String(20))
    rule_id: Mapped[str | None] = mapped_column(String(40))
    agent: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


def describe(url: str | URL) -> str:
    """The URL with its password masked, for log lines and messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL; None for other backends and in-memory databases."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Path(url.database)


def store_exists(url: str | URL) -> bool:
    """Tell whether a store may hold corrections already (False for a SQLite file not yet created).

    Training and server start-up use it so that they never create an empty database as a side effect.
    """
    path = sqlite_path(url)
    return path is None or path.exists()


def _create_private(path: Path) -> None:
    """Create the SQLite file empty and private (0600) before SQLite opens it with the umask's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: the API's writes do not block a training run reading the corrections, and the reverse.
    # synchronous=NORMAL: a commit does not wait for fsync (3.5 of the 4 ms of a correction here); in WAL
    # mode the file cannot be corrupted by that, and only a power cut can lose the last commits.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class FeedbackStore:
    """Corrections in a SQL database; opening it brings the schema to the newest migration.

    Args:
        url: a SQLAlchemy URL, e.g. ``sqlite:///triage.db`` or ``postgresql+psycopg://user@host/db``.

    Attributes:
        local: the database is a SQLite file on this machine (a write is a local file append).

    Raises:
        FeedbackStoreError: when the database cannot be opened or migrated.
    """

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        path = sqlite_path(self.url)
        self.local = path is not None
        if path is not None:
            _create_private(path)
        self.engine: Engine = create_engine(self.url, hide_parameters=True, pool_pre_ping=path is None)
        if path is not None:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.migrate()

    def migrate(self) -> None:
        """Run Alembic's ``upgrade head`` on this database (idempotent).

        Raises:
            FeedbackStoreError: when the migration fails twice (once is a race with another process
                starting at the same moment, which the second attempt sees finished).
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        for attempt in (1, 2):
            try:
                with self.engine.begin() as connection:
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                return
            except SQLAlchemyError as error:
                if attempt == 2:
                    raise FeedbackStoreError(f"cannot migrate the corrections database {describe(self.url)} ({type(error).__name__})") from None

    def add(self, correction: Correction, *, feedback_id: str | None = None, received_at: datetime | None = None) -> str:
        """Store one correction.

        Args:
            correction: a validated correction.
            feedback_id: keep this id (an import); a new random one when None.
            received_at: when it was received; now when None.

        Returns:
            The correction's ``feedback_id``.

        Raises:
            FeedbackStoreError: when the write fails.
        """
        row = self._row(correction, feedback_id, received_at)
        with self._transaction() as session:
            session.add(row)
        return row.feedback_id

    def add_many(self, items: Iterable[tuple[Correction, str | None, datetime | None]]) -> tuple[int, int]:
        """Store many corrections in one transaction; ids already stored are skipped (re-imports).

        Args:
            items: (correction, feedback_id or None, received_at or None).

        Returns:
            (added, skipped).
        """
        rows = [self._row(c, i, r) for c, i, r in items]
        with self._transaction() as session:
            given = [r.feedback_id for r in rows]
            known: set[str] = set()
            for start in range(0, len(given), 500):
                known |= set(session.scalars(select(CorrectionRow.feedback_id).where(CorrectionRow.feedback_id.in_(given[start : start + 500]))))
            fresh = {r.feedback_id: r for r in rows if r.feedback_id not in known}
            session.add_all(fresh.values())
        return len(fresh), len(rows) - len(fresh)

    def summary(self) -> dict[str, Any]:
        """Counts of stored corrections by category and by rule; never any text."""
        with self._transaction() as session:
            by_category = dict(session.execute(select(CorrectionRow.category, func.count()).group_by(CorrectionRow.category)).all())
            by_rule = dict(
                session.execute(
                    select(CorrectionRow.rule_id, func.count()).where(CorrectionRow.rule_id.is_not(None)).group_by(CorrectionRow.rule_id)
                ).all()
            )
        return {
            "total": sum(by_category.values()),
            "by_category": {c: int(by_category.get(c, 0)) for c in CATEGORIES},
            "by_rule": {rule: int(n) for rule, n in sorted(by_rule.items())},
        }

    def rows(self) -> list[dict[str, Any]]:
        """Every stored correction as a dict of ``EXPORT_COLUMNS``, oldest first."""
        with self._transaction() as session:
            stored = session.scalars(select(CorrectionRow).order_by(CorrectionRow.received_at, CorrectionRow.feedback_id)).all()
        return [{name: getattr(row, name) for name in EXPORT_COLUMNS} for row in stored]

    def purge(self, older_than_days: int, now: datetime | None = None) -> int:
        """Delete corrections received more than ``older_than_days`` days before ``now``.

        Returns:
            How many were deleted.
        """
        cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
        with self._transaction() as session:
            result = session.execute(delete(CorrectionRow).where(CorrectionRow.received_at < cutoff))
        return int(result.rowcount or 0)

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    @staticmethod
    def _row(correction: Correction, feedback_id: str | None, received_at: datetime | None) -> CorrectionRow:
        return CorrectionRow(
            feedback_id=feedback_id or uuid.uuid4().hex,
            ticket_id=correction.ticket_id,
            text=correction.text,
            category=correction.category,
            intent=correction.intent,
            route=correction.route,
            rule_id=correction.rule_id,
            agent=correction.agent,
            created_at=correction.created_at,
            received_at=received_at or datetime.now(UTC),
        )

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session in one transaction, committed on success; any database error becomes ``FeedbackStoreError``."""
        try:
            with self._session.begin() as session:
                yield session
        except SQLAlchemyError as error:
            # ``from None``: the original names the statement; a traceback should not.
            raise FeedbackStoreError(f"corrections database {describe(self.url)}: {type(error).__name__}") from None


def open_store(url: str | URL, retention_days: int | None = None) -> FeedbackStore:
    """Open (create, migrate) the store and apply the retention period.

    Args:
        url: the database URL.
        retention_days: purge corrections older than this; nothing is purged when None.

    Returns:
        The open store.
    """
    store = FeedbackStore(url)
    if retention_days:
        purged = store.purge(retention_days)
        if purged:
            log.info("purged %d correction(s) older than %d days", purged, retention_days)
    return store
