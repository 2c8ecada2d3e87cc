"""One pure ASGI middleware for what every request needs: request id, body limit, metrics, access log.

Pure ASGI (not ``BaseHTTPMiddleware``) keeps the per-request overhead to a few microseconds and
lets the body limit see the streamed bytes, not only the Content-Length header.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.logs import request_id_var
from serving.api.metrics import Metrics

log = logging.getLogger("serving.api.access")
error_log = logging.getLogger("serving.api.errors")

# A caller's id is echoed into headers and logs, so only a short, plain token is honoured.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(Exception):
    """The request body exceeded the limit while it was being read."""


def _json_response(status: int, body: dict[str, Any], extra_headers: list[tuple[bytes, bytes]] = ()) -> tuple[Message, Message]:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *extra_headers]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": payload},
    )


class RequestContextMiddleware:
    """Request id, body-size limit, metrics, access log and a last-resort error guard.

    Args:
        app: the wrapped ASGI app.
        metrics: where request counts and latencies go.
        max_body_bytes: larger bodies get 413, by header or by the bytes actually streamed.
        known_paths: returns the app's (parameter-free) route paths, to name the endpoint of a
            request refused before routing, such as a 413.
    """

    def __init__(
        self, app: ASGIApp, metrics: Metrics, max_body_bytes: int, known_paths: Callable[[], set[str]] = set
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.known_paths = known_paths
        self._known: set[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                # Decisions describe health information: no shared cache may keep them.
                headers.append((b"cache-control", b"no-store"))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS:
                receive = await self._limited_body(scope, receive)
            await self.app(scope, receive, send_wrapper)
        except BodyTooLarge:
            for message in _json_response(413, _too_large_body(self.max_body_bytes)):
                await send_wrapper(message)
        except Exception as error:
            # Log the kind and place of the failure but not its message, which could quote ticket text.
            frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
            where = f"{frame.filename}:{frame.lineno}" if frame else "?"
            error_log.error("unhandled error", extra={"error_type": type(error).__name__, "where": where})
            if not response_started:
                for message in _json_response(500, {"detail": "internal error", "errors": []}):
                    await send_wrapper(message)
        finally:
            seconds = time.perf_counter() - started
            endpoint = self._endpoint(scope)
            self.metrics.observe_request(endpoint, scope["method"], status, seconds)
            log.info(
                "request",
                extra={"method": scope["method"], "endpoint": endpoint, "status": status, "duration_ms": round(seconds * 1000, 2)},
            )
            request_id_var.reset(token)

    def _endpoint(self, scope: Scope) -> str:
        """The route template of the request; "unmatched" for unknown paths, which keeps label values bounded."""
        path = getattr(scope.get("route"), "path", None)
        if path is not None:
            return path
        if self._known is None:
            self._known = self.known_paths()
        return scope["path"] if scope["path"] in self._known else "unmatched"

    async def _limited_body(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body up to the limit, then replay it to the app.

        Raises:
            BodyTooLarge: by Content-Length before reading, or once the streamed bytes pass the limit.
        """
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # uvicorn rejects malformed lengths itself; count the bytes instead
                if declared > self.max_body_bytes:
                    raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client went away; let the app see the disconnect.
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            more = message.get("more_body", False)
        return _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    queue = list(messages)

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _too_large_body(limit: int) -> dict[str, Any]:
    return {
        "detail": f"request body is larger than {limit} bytes",
        "errors": [{"field": "body", "problem": f"larger than {limit} bytes"}],
    }
