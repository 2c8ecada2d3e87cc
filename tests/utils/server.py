"""Start `triage serve` as a real uvicorn process on a free loopback port, with its output captured."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from serving.settings import Settings


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, interval: float = 0.2) -> None:
    """Poll ``predicate`` until it is true.

    Raises:
        AssertionError: when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment that points a server process at the same store as ``settings``.

    Args:
        settings: the test store's settings.
        extra: more variables, e.g. ``TRIAGE_API_KEYS``.

    Returns:
        The environment for ``subprocess``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(
        {
            "MLFLOW_TRACKING_URI": settings.tracking_uri,
            "TRIAGE_MODEL_NAME": settings.model_name,
            "TRIAGE_MODEL_ALIAS": settings.model_alias,
            "TRIAGE_RELOAD_INTERVAL_S": "0",
            "TRIAGE_EXTERNAL_EVAL_PATH": "/nonexistent/eval.csv",
            "TRIAGE_DATABASE_URL": settings.database_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.artifact_root:
        env["TRIAGE_ARTIFACT_ROOT"] = settings.artifact_root
    env.update(extra)
    return env


class ServerProcess:
    """A `triage serve` subprocess; stdout and stderr go to one log file.

    Args:
        env: the process environment (see ``server_env``).
        log_path: where the server's output is written.
        args: extra `triage serve` options.
    """

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-c", "from triage.cli import app; app()", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), *args]
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_until_up(self, timeout: float = 240.0, ready: bool = True) -> None:
        """Wait for /healthz (and /readyz when ``ready``) to answer 200.

        Start-up is imports plus a model load, about 15 s; on a shared machine with two servers starting
        at once it has taken 85 s, hence the generous bound.

        Raises:
            RuntimeError: when the process exits or the timeout passes; the log is included.
        """
        deadline = time.monotonic() + timeout
        path = "/readyz" if ready else "/healthz"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not up after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        """Everything the server wrote so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
