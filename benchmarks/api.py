"""Latency, throughput and a soak of `triage serve` against `mlflow models serve` on the same tickets.

Uses the champion in the configured store (MLFLOW_TRACKING_URI, ./mlflow.db by default); when there
is none it trains one on the sample into a temporary store first. Both servers run on loopback with
one worker each; requests are bounded. Prints a markdown table.

    python benchmarks/api.py [--requests 400] [--soak-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil

PROJ_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJ_ROOT))

from serving.settings import Settings  # noqa: E402

COLUMNS = ["ticket_id", "text", "created_at", "appointment_at", "awaiting_provider_since", "emergency", "timezone"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_champion(settings: Settings) -> Settings:
    """The settings of a store with a champion: the configured one, else a temporary one trained on the sample.

    Args:
        settings: the configured settings.

    Returns:
        Settings whose store has ``@champion``.
    """
    from serving.model.loader import resolve_version

    store = settings.tracking_uri.removeprefix("sqlite:///")
    # Asking MLflow about a SQLite file that does not exist would create an empty store in the working folder.
    missing = settings.tracking_uri.startswith("sqlite:///") and not Path(store).exists()
    if not missing and resolve_version(settings) is not None:
        return settings
    from pipeline.tracking import run_training

    root = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    trained = Settings(
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        artifact_root=str(root / "artifacts"),
        external_eval_path=root / "no-external-eval.csv",
    )
    print(f"no champion in {settings.tracking_uri}; training one into {root}", file=sys.stderr)
    run_training(trained, trained.data_path, grid={"features": ["static"], "C": [4.0]})
    return trained


def load_tickets(settings: Settings, n: int) -> list[dict[str, Any]]:
    """The first ``n`` sample tickets as JSON objects (absent fields left out)."""
    frame = pd.read_csv(settings.data_path, dtype=str, nrows=n)[COLUMNS]
    return [{k: v for k, v in row.items() if isinstance(v, str)} for row in frame.to_dict("records")]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a server process with its output in ``log``."""
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    """Wait for a 200 from ``url``; fail if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def rss_mb(process: subprocess.Popen) -> float:
    """Resident memory of a server process and its children, MiB."""
    proc = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


async def run_load(
    url: str, bodies: list[bytes], concurrency: int, *, count: int | None = None, seconds: float | None = None
) -> dict[str, Any]:
    """Send requests from ``concurrency`` workers until ``count`` are done or ``seconds`` pass.

    Returns:
        Latencies (ms), errors and requests per second.
    """
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + seconds if seconds else None
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors, sent
            while True:
                if count is not None and sent >= count:
                    return
                if deadline is not None and time.monotonic() >= deadline:
                    return
                body = bodies[sent % len(bodies)]
                sent += 1
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "n": len(latencies),
        "errors": errors,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "rps": len(latencies) / elapsed,
    }


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="Requests per server and concurrency level.")
    parser.add_argument("--soak-seconds", type=float, default=60.0, help="Length of the concurrency-8 soak.")
    parser.add_argument("--tickets", type=int, default=200, help="Distinct sample tickets to cycle through.")
    args = parser.parse_args()

    settings = ensure_champion(Settings())
    tickets = load_tickets(settings, args.tickets)
    api_bodies = [json.dumps(t).encode() for t in tickets]
    # MLflow's scoring server takes a one-row frame; every column of the signature is a string.
    mlflow_bodies = [json.dumps({"dataframe_records": [{c: t.get(c) for c in COLUMNS}]}).encode() for t in tickets]

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(MLFLOW_TRACKING_URI=settings.tracking_uri, TRIAGE_LOG_LEVEL="warning", TRIAGE_API_KEYS="")
    if settings.artifact_root:
        env["TRIAGE_ARTIFACT_ROOT"] = settings.artifact_root
    logs = Path(tempfile.mkdtemp(prefix="triage-bench-logs-"))
    api_port, mlflow_port = free_port(), free_port()
    api = start(
        [sys.executable, "-c", "from triage.cli import app; app()", "serve", "--host", "127.0.0.1", "--port", str(api_port)],
        env, logs / "api.log",
    )
    served = start(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", settings.model_uri, "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(mlflow_port), "-w", "1"],
        env, logs / "mlflow.log",
    )
    rows: list[tuple[str, int, dict[str, Any]]] = []
    try:
        wait_ready(f"http://127.0.0.1:{api_port}/readyz", api)
        wait_ready(f"http://127.0.0.1:{mlflow_port}/ping", served)
        targets = {
            "triage serve /v1/triage": (f"http://127.0.0.1:{api_port}/v1/triage", api_bodies),
            "mlflow models serve /invocations": (f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_bodies),
        }
        for name, (url, bodies) in targets.items():
            asyncio.run(run_load(url, bodies, 1, count=30))  # warm-up
            for concurrency in (1, 8):
                rows.append((name, concurrency, asyncio.run(run_load(url, bodies, concurrency, count=args.requests))))
        api_url = targets["triage serve /v1/triage"][0]
        rss_start = rss_mb(api)
        soak = asyncio.run(run_load(api_url, api_bodies, 8, seconds=args.soak_seconds))
        rss_end = rss_mb(api)
    finally:
        for process in (api, served):
            process.terminate()
        for process in (api, served):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    print(f"\nModel: {settings.model_uri} in {settings.tracking_uri}; {len(tickets)} sample tickets; 1 worker each.\n")
    print("| server | concurrency | requests | errors | p50 ms | p99 ms | req/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, concurrency, r in rows:
        print(f"| {name} | {concurrency} | {r['n']} | {r['errors']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} |")
    print(
        f"| soak {args.soak_seconds:.0f} s, triage serve | 8 | {soak['n']} | {soak['errors']} | {soak['p50']:.2f} "
        f"| {soak['p99']:.2f} | {soak['rps']:.0f} |"
    )
    print(f"\nSoak RSS: {rss_start:.0f} MiB at start, {rss_end:.0f} MiB at end ({rss_end - rss_start:+.1f} MiB).")
    api_c1 = next(r for n, c, r in rows if n.startswith("triage") and c == 1)
    ml_c1 = next(r for n, c, r in rows if n.startswith("mlflow") and c == 1)
    print(
        f"Targets: p50 <= half of MLflow's ({api_c1['p50']:.2f} vs {ml_c1['p50'] / 2:.2f} ms): "
        f"{'met' if api_c1['p50'] <= ml_c1['p50'] / 2 else 'MISSED'}; p99 <= 25 ms at concurrency 1 "
        f"({api_c1['p99']:.2f} ms): {'met' if api_c1['p99'] <= 25 else 'MISSED'}; errors in soak: {soak['errors']}."
    )


if __name__ == "__main__":
    main()
