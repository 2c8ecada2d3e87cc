"""Latency of ``POST /v1/feedback`` on the default SQLite store, under a real `triage serve`.

One server, one worker, loopback, API keys on, a fresh SQLite corrections file (WAL journal,
``synchronous=NORMAL``, as the store opens it); no model is needed to take corrections. Sequential requests first (the p99 target:
25 ms), then 8 clients at once. Prints a markdown table.

    python benchmarks/feedback.py [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def correction(i: int) -> dict[str, str]:
    """A realistic correction, different every time."""
    return {
        "ticket_id": f"B-{i}",
        "text": f"Hi, I was charged twice for my session on the {i % 28 + 1}th, can you refund one of them? Order {i}.",
        "category": "billing",
        "route": "provider",
        "rule_id": "BILL-PROVIDER-FIRST",
        "agent": f"agent-{i % 7}",
        "created_at": "2026-03-02T09:00:00-05:00",
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def concurrent(url: str, n: int, clients: int, offset: int) -> tuple[list[float], int, float]:
    """``n`` requests from ``clients`` tasks; (latencies in ms, errors, seconds)."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(offset, offset + n))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            response = await client.post("/v1/feedback", json=correction(i), headers=HEADERS)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 201

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    n = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")}
        env.update({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "TRIAGE_DATABASE_URL": f"sqlite:///{tmp}/triage.db",
                    "TRIAGE_API_KEYS": KEY, "TRIAGE_RELOAD_INTERVAL_S": "0", "TRIAGE_LOG_LEVEL": "warning",
                    "PYTHONPATH": str(ROOT)})  # fmt: skip
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen([sys.executable, "-c", "from triage.cli import app; app()", "serve", "--port", str(port)],
                                  cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            print("| request | requests | clients | errors | p50 ms | p99 ms | max ms | req/s |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            with httpx.Client(base_url=url, timeout=30) as client:
                for i in range(50):  # warm-up: the first request creates and migrates the database
                    client.post("/v1/feedback", json=correction(-i - 1), headers=HEADERS)
                # Interleaved with GET /healthz, the floor of the HTTP stack, so both see the same machine load.
                timings: dict[str, list[float]] = {"POST /v1/feedback": [], "GET /healthz (floor)": []}
                errors, seconds = 0, 0.0
                for i in range(n):
                    t = time.perf_counter()
                    response = client.post("/v1/feedback", json=correction(i), headers=HEADERS)
                    timings["POST /v1/feedback"].append((time.perf_counter() - t) * 1000)
                    seconds += time.perf_counter() - t
                    errors += response.status_code != 201
                    t = time.perf_counter()
                    client.get("/healthz")
                    timings["GET /healthz (floor)"].append((time.perf_counter() - t) * 1000)
            rows = [("POST /v1/feedback", n, 1, errors, timings["POST /v1/feedback"], seconds),
                    ("GET /healthz (floor)", n, 1, 0, timings["GET /healthz (floor)"], sum(timings["GET /healthz (floor)"]) / 1000)]  # fmt: skip
            latencies, errors, seconds = asyncio.run(concurrent(url, n, 8, n))
            rows.append(("POST /v1/feedback", n, 8, errors, latencies, seconds))
            for what, count, clients, errors, values, seconds in rows:
                print(f"| {what} | {count:,} | {clients} | {errors} | {statistics.median(values):.2f} | **{percentile(values, 0.99):.2f}** "
                      f"| {max(values):.2f} | {count / seconds:.0f} |")  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=15)
            log.close()


if __name__ == "__main__":
    main()
