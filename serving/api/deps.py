"""Dependencies of the routes: settings, the served model, metrics and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.api.capacity import ScoringGate
from serving.api.holder import LoadedModel, ModelHolder
from serving.api.metrics import Metrics
from serving.settings import Settings

# The dependencies are ``async def`` although they never await: they only read app state, and a
# plain ``def`` would send each of them through the thread pool, a hand-off per dependency per request.

# auto_error=False: a missing header is answered by ``require_api_key`` with our own 401 body,
# and only when keys are configured at all.
_bearer = HTTPBearer(auto_error=False, description="An API key from TRIAGE_API_KEYS, sent as `Authorization: Bearer <key>`.")


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolder:
    """The holder of the served model."""
    return request.app.state.holder


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    return request.app.state.metrics


async def get_gate(request: Request) -> ScoringGate:
    """The gate every scoring request passes: a few threads, a bounded queue."""
    return request.app.state.gate


SettingsDep = Annotated[Settings, Depends(get_settings)]
GateDep = Annotated[ScoringGate, Depends(get_gate)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def get_model(holder: HolderDep) -> LoadedModel:
    """The model serving now, taken once per request so a hot swap cannot change it mid-request.

    Raises:
        HTTPException: 503 until a model has been loaded.
    """
    current = holder.current
    if current is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "no model is loaded yet; try again shortly", headers={"Retry-After": "5"}
        )
    return current


ModelDep = Annotated[LoadedModel, Depends(get_model)]


def key_matches(candidate: str, keys: list[str]) -> bool:
    """Compare a presented key with every configured key in constant time.

    Args:
        candidate: the key from the request.
        keys: the configured keys.

    Returns:
        True when it equals one of them.
    """
    presented = candidate.encode()  # bytes: compare_digest refuses non-ASCII str
    found = False
    for key in keys:
        # No early exit, so the time does not tell which key (or how many) matched.
        found |= hmac.compare_digest(presented, key.encode())
    return found


async def require_api_key(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Let the request through when no keys are configured or it carries one of them.

    Raises:
        HTTPException: 401 with ``WWW-Authenticate: Bearer`` otherwise.
    """
    keys = settings.api_key_list
    if not keys:
        return
    if credentials is None or not key_matches(credentials.credentials, keys):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
        )


AuthDep = Depends(require_api_key)
