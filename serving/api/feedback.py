"""``/v1/feedback``: agents' corrections in, counts out. Its own router and its own start-up step.

The store is synchronous SQLAlchemy. On SQLite a correction is written on the event loop: the insert
takes about half a millisecond (WAL, no fsync per commit), less than the hand-off to the thread pool and
back, which doubled the p99 (``benchmarks/feedback.py``); it can wait for a lock only while a
``triage feedback import`` commits. A server database's round trip goes to the thread pool, as does
the summary. Nothing here logs or returns a correction's text; errors name the field or the kind of failure.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from serving.api.deps import AuthDep, MetricsDep
from serving.api.schemas import EXAMPLE_FEEDBACK, ErrorOut, FeedbackOut, FeedbackSummaryOut, RawFeedback
from serving.feedback.corrections import parse_correction
from serving.feedback.store import FeedbackStore, FeedbackStoreError, describe, open_store, store_exists
from serving.settings import Settings
from serving.tickets import TicketError

log = logging.getLogger(__name__)

_OPEN_LOCK = threading.Lock()


def _open(app: FastAPI) -> FeedbackStore:
    """The app's store, opened (created, migrated, purged) on first need; one opening at a time."""
    with _OPEN_LOCK:
        store = getattr(app.state, "feedback_store", None)
        if store is None:
            settings: Settings = app.state.settings
            store = open_store(settings.database_url, settings.feedback_retention_days)
            app.state.feedback_store = store
        return store


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate and apply the retention period at start-up when the store exists; close it at shutdown.

    A SQLite file that does not exist yet is created by the first correction, so a server that never
    receives one leaves no empty database behind. A store that cannot be opened is logged and tried
    again at the first request (which answers 503 meanwhile): scoring keeps working without it.
    """
    app.state.feedback_store = None
    url = app.state.settings.database_url
    if store_exists(url):
        try:
            await run_in_threadpool(_open, app)
        except FeedbackStoreError as error:
            log.error("corrections store unavailable at start-up: %s", error, extra={"database": describe(url)})
    try:
        yield
    finally:
        store = app.state.feedback_store
        if store is not None:
            store.close()


def _unavailable() -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the corrections database is unavailable", headers={"Retry-After": "5"})


async def get_store(request: Request) -> FeedbackStore:
    """The corrections store.

    Raises:
        HTTPException: 503 when the database cannot be opened.
    """
    store = request.app.state.feedback_store
    if store is not None:
        return store
    try:
        return await run_in_threadpool(_open, request.app)
    except FeedbackStoreError as error:
        log.error("corrections store unavailable: %s", error)
        raise _unavailable() from None


StoreDep = Annotated[FeedbackStore, Depends(get_store)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid API key."},
    413: {"model": ErrorOut, "description": "Body larger than TRIAGE_MAX_BODY_BYTES."},
    422: {"model": ErrorOut, "description": "Invalid correction; names the field and the problem."},
    503: {"model": ErrorOut, "description": "The corrections database is unavailable."},
}

feedback = APIRouter(prefix="/v1/feedback", tags=["feedback"], dependencies=[AuthDep], responses=_ERRORS, lifespan=lifespan)


@feedback.post("", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut)
async def post_feedback(
    body: Annotated[RawFeedback, Body(openapi_examples={"correction": {"value": EXAMPLE_FEEDBACK}})],
    store: StoreDep,
    metrics: MetricsDep,
) -> FeedbackOut:
    """Store an agent's correction of a decision."""
    try:
        correction = parse_correction(body)
    except TicketError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"detail": str(error), "errors": [{"field": error.field, "problem": error.problem}]},
        ) from None
    try:
        feedback_id = store.add(correction) if store.local else await run_in_threadpool(store.add, correction)
    except FeedbackStoreError as error:
        log.error("correction not stored: %s", error)
        raise _unavailable() from None
    metrics.feedback.labels(correction.category).inc()
    return FeedbackOut(feedback_id=feedback_id)


@feedback.get("/summary", response_model=FeedbackSummaryOut)
def feedback_summary(store: StoreDep) -> FeedbackSummaryOut:
    """Count the stored corrections by category and by rule."""
    try:
        return FeedbackSummaryOut(**store.summary())
    except FeedbackStoreError as error:
        log.error("corrections summary failed: %s", error)
        raise _unavailable() from None
