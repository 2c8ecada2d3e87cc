"""The routes: thin wrappers over ``serving.scoring``; validation and rules live there, not here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from serving.api.deps import AuthDep, HolderDep, MetricsDep, ModelDep, SettingsDep
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
from serving.scoring import score_batch, score_one
from serving.tickets import echo_id

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid API key."},
    413: {"model": ErrorOut, "description": "Body larger than TRIAGE_MAX_BODY_BYTES."},
    422: {"model": ErrorOut, "description": "Invalid ticket or body; names the field and the problem."},
    503: {"model": ErrorOut, "description": "No model loaded yet."},
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
async def triage_one(ticket: TicketIn, model: ModelDep, metrics: MetricsDep) -> dict[str, Any]:
    """Route one ticket to the provider or the Support Team."""
    # exclude_unset: an absent field stays absent, exactly as in a batch row. Scoring one ticket takes
    # about a millisecond of CPU, less than a hand-off to the thread pool and back, so it runs on the
    # event loop; the batch route (up to 1,000 tickets) stays in the pool.
    decision = score_one(model.classifier, ticket.model_dump(exclude_unset=True))
    metrics.observe_decision(decision)
    return decision.to_dict()


@v1.post("/triage/batch", response_model=BatchOut)
def triage_batch(batch: BatchIn, model: ModelDep, settings: SettingsDep, metrics: MetricsDep) -> dict[str, Any]:
    """Route several tickets; invalid ones get their own error entry, the rest are scored."""
    if len(batch.tickets) > settings.max_batch_items:
        problem = f"at most {settings.max_batch_items} tickets per request; got {len(batch.tickets)}"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"detail": f"tickets: {problem}", "errors": [{"field": "tickets", "problem": problem}]},
        )
    scored = score_batch(model.classifier, batch.tickets)
    results: list[dict[str, Any]] = []
    for index, (raw, result) in enumerate(zip(batch.tickets, scored)):
        if isinstance(result, Decision):
            metrics.observe_decision(result)
            results.append(result.to_dict())
        else:
            metrics.rejected.labels(result.field).inc()
            results.append({"index": index, "ticket_id": _echo_id(raw), "field": result.field, "problem": result.problem})
    rejected = sum(1 for r in results if "problem" in r)
    return {"results": results, "n_scored": len(results) - rejected, "n_rejected": rejected}


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

