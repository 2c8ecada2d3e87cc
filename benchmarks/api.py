"""Latency, throughput and a soak of `triage serve` against `mlflow models serve`, then `triage serve` under load.

Uses the champion in the configured store (MLFLOW_TRACKING_URI, ./mlflow.db by default); when there
is none it trains one on the sample into a temporary store first. Everything runs on loopback and is
bounded in time and count. Prints markdown tables.

- latency: both servers with one worker, single tickets at concurrency 1 and 8, then a soak.
- load: `triage serve --workers N` (N = 1, 2) while two clients post 1,000-ticket batches back to
  back, a third polls /healthz (as a load balancer does) and a fourth posts single tickets.

    python benchmarks/api.py [--requests 400] [--soak-seconds 60] [--load-seconds 30] [--cases latency,load]
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


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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
    return {
        "n": len(latencies),
        "errors": errors,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "rps": len(latencies) / elapsed,
    }


async def run_mixed_load(base_url: str, batch_body: bytes, single_bodies: list[bytes], seconds: float) -> dict[str, Any]:
    """Two clients post a 1,000-ticket batch back to back, a third polls /healthz, a fourth posts single tickets.

    Each client has its own connection and waits for its answer before the next request. A 503 (the
    scoring queue is full) is counted apart from errors: it is the bound doing its job.

    Returns:
        Per role: requests, errors, 503s and the latencies (ms) of the answered ones.
    """
    headers = {"content-type": "application/json"}
    deadline = time.monotonic() + seconds
    roles: dict[str, dict[str, Any]] = {
        name: {"n": 0, "errors": 0, "busy": 0, "ms": []} for name in ("batch", "healthz", "single")
    }

    async def client(role: str, method: str, path: str, bodies: list[bytes] | None, pause: float) -> None:
        stats = roles[role]
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            while time.monotonic() < deadline:
                body = bodies[stats["n"] % len(bodies)] if bodies else None
                stats["n"] += 1
                started = time.perf_counter()
                try:
                    response = await http.request(method, path, content=body, headers=headers if body else None)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                elapsed = (time.perf_counter() - started) * 1000
                if status == 200:
                    stats["ms"].append(elapsed)
                elif status == 503:
                    stats["busy"] += 1
                else:
                    stats["errors"] += 1
                if pause:
                    await asyncio.sleep(pause)

    started = time.perf_counter()
    await asyncio.gather(
        client("batch", "POST", "/v1/triage/batch", [batch_body], 0),
        client("batch", "POST", "/v1/triage/batch", [batch_body], 0),
        client("healthz", "GET", "/healthz", None, 0.02),  # a load balancer's probe, 50 a second
        client("single", "POST", "/v1/triage", single_bodies, 0),
    )
    roles["seconds"] = time.perf_counter() - started
    return roles


def start_api(env: dict[str, str], log: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """Start `triage serve` on a free loopback port; the process and its base URL."""
    port = free_port()
    command = [sys.executable, "-c", "from triage.cli import app; app()", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers)]
    return start(command, env, log), f"http://127.0.0.1:{port}"


def stop(*processes: subprocess.Popen) -> None:
    """Terminate the processes, then kill what is still running after 20 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def latency_case(settings: Settings, env: dict[str, str], logs: Path, tickets: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Single tickets against both servers, then a soak of `triage serve`; prints the table."""
    api_bodies = [json.dumps(t).encode() for t in tickets]
    # MLflow's scoring server takes a one-row frame; every column of the signature is a string.
    mlflow_bodies = [json.dumps({"dataframe_records": [{c: t.get(c) for c in COLUMNS}]}).encode() for t in tickets]
    api, api_url = start_api(env, logs / "api.log")
    mlflow_port = free_port()
    served = start(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", settings.model_uri, "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(mlflow_port), "-w", "1"],
        env, logs / "mlflow.log",
    )
    rows: list[tuple[str, int, dict[str, Any]]] = []
    try:
        wait_ready(f"{api_url}/readyz", api)
        wait_ready(f"http://127.0.0.1:{mlflow_port}/ping", served)
        targets = {
            "triage serve /v1/triage": (f"{api_url}/v1/triage", api_bodies),
            "mlflow models serve /invocations": (f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_bodies),
        }
        for name, (url, bodies) in targets.items():
            asyncio.run(run_load(url, bodies, 1, count=30))  # warm-up
            for concurrency in (1, 8):
                rows.append((name, concurrency, asyncio.run(run_load(url, bodies, concurrency, count=args.requests))))
        rss_start = rss_mb(api)
        soak = asyncio.run(run_load(f"{api_url}/v1/triage", api_bodies, 8, seconds=args.soak_seconds))
        rss_end = rss_mb(api)
    finally:
        stop(api, served)

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


def load_case(settings: Settings, env: dict[str, str], logs: Path, args: argparse.Namespace) -> None:
    """The mixed load against one worker and against two; prints the table."""
    batch = load_tickets(settings, 1000)
    batch_body = json.dumps({"tickets": batch}).encode()
    single_bodies = [json.dumps(t).encode() for t in batch[:200]]
    results = []
    for workers in args.workers:
        api, url = start_api(env, logs / f"api-{workers}w.log", workers)
        try:
            wait_ready(f"{url}/readyz", api)
            asyncio.run(run_mixed_load(url, batch_body, single_bodies, 2.0))  # warm-up of every worker
            results.append((workers, asyncio.run(run_mixed_load(url, batch_body, single_bodies, args.load_seconds))))
        finally:
            stop(api)

    print(
        f"\nLoad, {args.load_seconds:.0f} s per row: two clients post {len(batch)}-ticket batches back to back, one polls"
        " /healthz every 20 ms, one posts single tickets back to back.\n"
    )
    print("| workers | batches | batch p50 ms | tickets/s | /healthz polls | /healthz p50 ms | /healthz p99 ms "
          "| single tickets | single p50 ms | single p99 ms | errors | 503s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workers, r in results:
        b, h, s = r["batch"], r["healthz"], r["single"]
        errors = b["errors"] + h["errors"] + s["errors"]
        busy = b["busy"] + h["busy"] + s["busy"]
        print(
            f"| {workers} | {b['n']} | {percentile(b['ms'], 0.5):.0f} | {len(b['ms']) * len(batch) / r['seconds']:,.0f} "
            f"| {h['n']} | {percentile(h['ms'], 0.5):.1f} | **{percentile(h['ms'], 0.99):.1f}** "
            f"| {s['n']} | {percentile(s['ms'], 0.5):.1f} | **{percentile(s['ms'], 0.99):.1f}** | {errors} | {busy} |"
        )
    for workers, r in results:
        h_p99, s_p99 = percentile(r["healthz"]["ms"], 0.99), percentile(r["single"]["ms"], 0.99)
        errors = sum(r[k]["errors"] for k in ("batch", "healthz", "single"))
        busy = {k: r[k]["busy"] for k in ("batch", "healthz", "single") if r[k]["busy"]}
        print(
            f"Targets, {workers} worker(s): no errors ({errors}): {'met' if errors == 0 else 'MISSED'}; /healthz p99 <= 100 ms "
            f"({h_p99:.1f}): {'met' if h_p99 <= 100 else 'MISSED'}; single p99 <= 250 ms ({s_p99:.1f}): "
            f"{'met' if s_p99 <= 250 else 'MISSED'}; 503s from the queue bound: {busy or 0}."
        )


def main() -> None:
    """Run the cases asked for and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="Requests per server and concurrency level.")
    parser.add_argument("--soak-seconds", type=float, default=60.0, help="Length of the concurrency-8 soak.")
    parser.add_argument("--tickets", type=int, default=200, help="Distinct sample tickets to cycle through.")
    parser.add_argument("--load-seconds", type=float, default=30.0, help="Length of the mixed load, per worker count.")
    parser.add_argument("--workers", type=lambda v: [int(w) for w in v.split(",")], default=[1, 2],
                        help="Worker counts of the load case, comma-separated.")
    parser.add_argument("--cases", default="latency,load", help="Which cases to run: latency, load or both.")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="A setting of the servers under test, e.g. TRIAGE_MAX_CONCURRENT_SCORING=2 (repeatable).")
    args = parser.parse_args()
    cases = {c.strip() for c in args.cases.split(",")}

    settings = ensure_champion(Settings())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
    env.update(MLFLOW_TRACKING_URI=settings.tracking_uri, TRIAGE_LOG_LEVEL="warning", TRIAGE_API_KEYS="")
    # `mlflow models serve` starts `uvicorn` by name: find this interpreter's, venv activated or not.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if settings.artifact_root:
        env["TRIAGE_ARTIFACT_ROOT"] = settings.artifact_root
    env.update(item.split("=", 1) for item in args.server_env)
    logs = Path(tempfile.mkdtemp(prefix="triage-bench-logs-"))
    if "latency" in cases:
        latency_case(settings, env, logs, load_tickets(settings, args.tickets), args)
    if "load" in cases:
        load_case(settings, env, logs, args)


if __name__ == "__main__":
    main()
