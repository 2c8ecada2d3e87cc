"""Build the FastAPI app: lifespan model loading, hot-reload poller, middleware and error handlers.

Error bodies never carry request values: FastAPI's default validation handler echoes ``input``
(which would be ticket text), so it is replaced by one that keeps only field names and problems.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from serving.api.capacity import RETRY_AFTER_S, ScoringBusy, ScoringGate
from serving.api.feedback import feedback
from serving.api.holder import ModelHolder
from serving.api.metrics import Metrics
from serving.api.middleware import RequestContextMiddleware
from serving.api.routes import health, ops, v1
from serving.tickets import TicketError, parse_ticket
from serving.settings import Settings, get_settings, package_version, redact_credentials

log = logging.getLogger(__name__)

DESCRIPTION = """Routes teletherapy help-desk tickets to the client's **provider** or the platform's
**Support Team** (see CONTRACT.md). When `TRIAGE_API_KEYS` is set, `/v1/*` and `/metrics` need
`Authorization: Bearer <key>`. Error bodies name the field and the problem and never repeat the ticket."""


def create_app(settings: Settings | None = None, model_uri: str | None = None) -> FastAPI:
    """Build the API app; the model is loaded when the app starts, not here.

    Args:
        settings: configuration; the process settings when None.
        model_uri: the model to serve; ``settings.serve_model_uri``, else the champion alias.

    Returns:
        The app, ready for uvicorn (``create_app`` also works as a uvicorn factory).
    """
    settings = settings or get_settings()
    uri = model_uri or settings.serve_model_uri or settings.model_uri
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder = ModelHolder(
            settings, uri, on_swap=metrics.model_swapped, on_failure=lambda: metrics.reloads.labels("failed").inc()
        )
        app.state.holder = holder
        # Made here, on the server's event loop, so every start gets a fresh queue.
        app.state.gate = ScoringGate(
            settings.max_concurrent_scoring, settings.max_queued_requests, on_change=metrics.scoring_admitted.set
        )
        # Load before accepting traffic; on failure start anyway so /healthz answers and /readyz says 503,
        # and let the poller keep trying.
        result = await holder.refresh()
        if holder.current is None:
            log.error(
                "no model loaded at start-up; serving 503 until one loads",
                extra={"uri": redact_credentials(uri), "detail": result.detail},
            )
        poller = None
        if settings.reload_interval_s > 0:
            poller = asyncio.create_task(holder.poll(settings.reload_interval_s), name="champion-poller")
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            metrics.process_exiting()

    app = FastAPI(
        title="Ticket triage API",
        version=package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.include_router(health)
    app.include_router(v1)
    app.include_router(ops)
    app.include_router(feedback)
    app.add_exception_handler(TicketError, _ticket_error)
    app.add_exception_handler(ScoringBusy, _scoring_busy)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    # Added last so it is outermost of the user middleware: it sees every request, CORS preflights too.
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        known_paths=lambda: set(app.openapi()["paths"]),
    )
    return app


def _error_body(field: str, problem: str) -> dict[str, Any]:
    return {"detail": f"{field}: {problem}", "errors": [{"field": field, "problem": problem}]}


async def _ticket_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TicketError)
    request.app.state.metrics.rejected.labels(error.field).inc()
    return JSONResponse(_error_body(error.field, error.problem), status_code=422)


async def _scoring_busy(request: Request, error: Exception) -> JSONResponse:
    """503 with Retry-After: a full queue answers at once instead of making the caller wait without bound."""
    assert isinstance(error, ScoringBusy)
    request.app.state.metrics.scoring_refused.inc()
    return JSONResponse(
        {"detail": str(error), "errors": []}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """422 naming fields and problems only: no ``input``, no ``ctx``, no raw body."""
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(_error_body("body", "is not valid JSON"), status_code=422)
    route = request.scope.get("route")
    if getattr(route, "path", None) == "/v1/triage":
        # A ticket pydantic refused (a number where text belongs, say): parse_ticket words the error,
        # so the API, the CLI and batch scoring give the same message.
        try:
            parse_ticket(error.body)
        except TicketError as ticket_error:
            return await _ticket_error(request, ticket_error)
    fields = []
    for e in errors:
        loc = [str(part) for part in e.get("loc", ()) if part != "body"]
        fields.append({"field": ".".join(loc) or "body", "problem": _problem(e)})
    detail = "; ".join(f"{f['field']}: {f['problem']}" for f in fields)
    return JSONResponse({"detail": detail, "errors": fields}, status_code=422)


def _problem(error: dict[str, Any]) -> str:
    # pydantic's messages do not include the value, but some types (literal/enum) list the accepted
    # ones, which is fine; the value itself is never added.
    if error.get("type") == "missing":
        return "is required"
    if error.get("type") in ("model_attributes_type", "dict_type"):
        return "must be a JSON object"
    return str(error.get("msg", "is invalid"))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if isinstance(error.detail, dict) and "detail" in error.detail:
        body = error.detail
    else:
        body = {"detail": str(error.detail), "errors": []}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)
