"""Run the API under uvicorn, refusing an unauthenticated server on anything but loopback."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import tempfile
from collections.abc import Iterator

from serving.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class UnsafeBindError(RuntimeError):
    """Binding beyond loopback without API keys would expose ticket scoring to the network unauthenticated."""


def is_loopback(host: str) -> bool:
    """Tell whether a bind address only accepts connections from this machine.

    Args:
        host: an IP address or host name, as given to ``--host``.

    Returns:
        True for 127.0.0.0/8, ::1 (also IPv4-mapped) and ``localhost``; False for anything else,
        including ``0.0.0.0``, ``::`` and other names (they may resolve to public addresses).
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_bind(host: str, settings: Settings) -> None:
    """Refuse a non-loopback bind when no API keys are configured.

    Args:
        host: the bind address.
        settings: where the API keys are.

    Raises:
        UnsafeBindError: with the reason and the fix.
    """
    if not settings.api_key_list and not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to listen on {host!r} without authentication: set TRIAGE_API_KEYS "
            "(comma-separated) or bind to a loopback address such as 127.0.0.1"
        )


def run(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    model_uri: str | None = None,
    log_level: str | None = None,
) -> None:
    """Serve the API until interrupted.

    Args:
        settings: configuration (keys, limits, tracking store).
        host: bind address; must be loopback unless API keys are configured.
        port: TCP port.
        workers: uvicorn worker processes; each loads its own copy of the model, follows the alias
            on its own and has its own scoring queue. With more than one, the workers read their
            settings from the environment, and ``/metrics`` adds up all of them.
        model_uri: model to serve instead of the champion.
        log_level: log level name; ``settings.log_level`` when None.

    Raises:
        UnsafeBindError: before binding, when the address is unsafe without keys.
    """
    import uvicorn

    from serving.api.logs import configure_logging, logging_config

    check_bind(host, settings)
    level = (log_level or settings.log_level).lower()
    configure_logging(level)
    options = dict(
        host=host,
        port=port,
        log_config=logging_config(level),
        log_level=level,
        access_log=False,  # the middleware writes access lines without query strings
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    if workers <= 1:
        from serving.api.main import create_app

        uvicorn.run(create_app(settings, model_uri), **options)
        return
    if settings.reload_interval_s <= 0:
        # POST /v1/model/reload reaches one worker; without polling the others would never follow.
        logging.getLogger(__name__).warning(
            "several workers with TRIAGE_RELOAD_INTERVAL_S=0: a reload reaches one worker, the others keep their model",
            extra={"workers": workers},
        )
    # Worker processes build their own app from the environment, so hand the choices on through it.
    if model_uri:
        os.environ["TRIAGE_SERVE_MODEL_URI"] = model_uri
    with _metrics_folder():
        uvicorn.run("serving.api.main:create_app", factory=True, workers=workers, **options)


@contextlib.contextmanager
def _metrics_folder() -> Iterator[None]:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` where the workers' metrics meet, removed when the server stops.

    A folder the caller chose is used as it is (Prometheus wants it empty at start).
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="triage-prom-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
