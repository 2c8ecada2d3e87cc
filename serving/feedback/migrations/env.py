"""Alembic environment of the corrections store, run programmatically by ``FeedbackStore.migrate``.

The store hands over an open connection (``config.attributes["connection"]``), so there is no
alembic.ini and no logging set-up here: the application's logging stays as it is.
"""

from alembic import context
from sqlalchemy import text

from serving.feedback.store import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Several API workers may start at once: one migrates, the others wait and find it done.
        connection.execute(text("SELECT pg_advisory_xact_lock(7263021)"))
    context.run_migrations()
