"""The routes: thin wrappers over ``serving.scoring``; validation and rules live there, not here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from serving.api.capacity import INTERACTIVE
from serving.api.deps import AuthDep, GateDep, HolderDep, MetricsDep, ModelDep, SettingsDep
from serving.api.metrics import Metrics
from serving.api.schemas import (
    BatchIn,
    BatchOut,
    DecisionOut,
    ErrorOut,
    HealthOut,
    ModelOut,
    ReadyOut,
    ReloadOut,
    TicketIn,
)
from serving.decision import Decision
from serving.model.classifier import TicketClassifier
from serving.scoring import score_batch, score_one
from serving.tickets import echo_id

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid API key."},
    413: {"model": ErrorOut, "description": "Body larger than TRIAGE_MAX_BODY_BYTES."},
    422: {"model": ErrorOut, "description": "Invalid ticket or body; names the field and the problem."},
    503: {
        "model": ErrorOut,
        "description": "No model loaded yet, or the scoring queue (TRIAGE_MAX_QUEUED_REQUESTS) is full; Retry-After says when to try again.",
    },
}

health = APIRouter(tags=["health"])
v1 = APIRouter(prefix="/v1", tags=["triage"], dependencies=[AuthDep], responses=_ERRORS)
ops = APIRouter(tags=["operations"], dependencies=[AuthDep])


@health.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """Report that the process is up."""
    return HealthOut()


@health.get("/readyz", response_model=ReadyOut, responses={503: {"model": ErrorOut, "description": "No model loaded yet."}})
async def readyz(holder: HolderDep) -> ReadyOut:
    """Report whether a model is loaded and tickets can be scored."""
    current = holder.current
    if current is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model is loaded yet", headers={"Retry-After": "5"})
    return ReadyOut(model_version=current.classifier.version)


@v1.post("/triage", response_model=DecisionOut)
async def triage_one(ticket: TicketIn, model: ModelDep, gate: GateDep, metrics: MetricsDep) -> dict[str, Any]:
    """Route one ticket to the provider or the Support Team."""
    # exclude_unset: an absent field stays absent, exactly as in a batch row.
    row = ticket.model_dump(exclude_unset=True)
    with gate.admit():
        decision = await gate.run(score_one, model.classifier, row, priority=INTERACTIVE)
    metrics.observe_decision(decision)
    return decision.to_dict()


@v1.post("/triage/batch", response_model=BatchOut)
async def triage_batch(
    batch: BatchIn, model: ModelDep, settings: SettingsDep, gate: GateDep, metrics: MetricsDep
) -> Response:
    """Route several tickets; invalid ones get their own error entry, the rest are scored."""
    tickets = batch.tickets
    if len(tickets) > settings.max_batch_items:
        problem = f"at most {settings.max_batch_items} tickets per request; got {len(tickets)}"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"detail": f"tickets: {problem}", "errors": [{"field": "tickets", "problem": problem}]},
        )
    step = settings.scoring_slice_items
    now = datetime.now(UTC)  # one clock for every slice, as if the batch were scored in one call
    results: list[dict[str, Any]] = []
    with gate.admit():
        # Between slices the thread goes back to the queue, where waiting single tickets go first: one
        # waits for at most a slice, not for a whole 1,000-ticket batch.
        for start in range(0, len(tickets), step):
            results += await gate.run(_score_slice, model.classifier, tickets[start : start + step], start, now, metrics)
        # Validating and writing 1,000 decisions takes milliseconds of CPU: also off the event loop.
        body = await gate.run(_render_batch, results)
    return Response(body, media_type="application/json")


def _score_slice(
    classifier: TicketClassifier, tickets: list[Any], offset: int, now: datetime, metrics: Metrics
) -> list[dict[str, Any]]:
    """The batch results of ``tickets``, which start at position ``offset`` of the request."""
    results: list[dict[str, Any]] = []
    for index, (raw, result) in enumerate(zip(tickets, score_batch(classifier, tickets, now=now)), start=offset):
        if isinstance(result, Decision):
            metrics.observe_decision(result)
            results.append(result.to_dict())
        else:
            metrics.rejected.labels(result.field).inc()
            results.append({"index": index, "ticket_id": _echo_id(raw), "field": result.field, "problem": result.problem})
    return results


def _render_batch(results: list[dict[str, Any]]) -> bytes:
    """The JSON body of a batch answer, checked against ``BatchOut`` as FastAPI's response_model would."""
    rejected = sum(1 for r in results if "problem" in r)
    body = BatchOut.model_validate({"results": results, "n_scored": len(results) - rejected, "n_rejected": rejected})
    return body.model_dump_json().encode()


def _echo_id(raw: Any) -> str | None:
    """The id of a rejected item when it is safe to echo (``serving.tickets.echo_id``, as in batch rejects)."""
    return echo_id(raw.get("ticket_id")) if isinstance(raw, dict) else None


@v1.get("/model", response_model=ModelOut)
async def model_info(model: ModelDep) -> ModelOut:
    """Describe the model being served: version, training date, metrics and thresholds."""
    classifier = model.classifier
    info = classifier.info or {}
    return ModelOut(
        version=classifier.version,
        registry_version=model.registry_version,
        uri=model.uri,
        loaded_at=model.loaded_at.isoformat(),
        trained_at=info.get("trained_at"),
        run_id=info.get("run_id"),
        metrics={k: float(v) for k, v in (info.get("metrics") or {}).items()},
        thresholds={k: float(v) for k, v in classifier.thresholds.items()},
        params=info.get("params") or {},
    )


@v1.post("/model/reload", response_model=ReloadOut, responses={503: {"model": ErrorOut, "description": "The load failed."}})
async def reload_model(holder: HolderDep, metrics: MetricsDep) -> ReloadOut:
    """Load the model the configured URI points at now if it changed; the old one serves until then."""
    result = await holder.refresh(force=not holder.follows_alias)
    if result.failed:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{result.detail}; still serving version {result.previous_version}" if result.previous_version else result.detail,
        )
    return ReloadOut(
        reloaded=result.reloaded, previous_version=result.previous_version, version=result.version, detail=result.detail
    )


@ops.get("/metrics", response_model=str, response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics_endpoint(metrics: MetricsDep) -> Response:
    """Expose Prometheus metrics."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)

