"""The API under load, against real `triage serve` processes: a full queue answers 503, health never waits, two workers."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import make_settings
from tests.utils.server import ServerProcess, server_env, wait_for

pytestmark = pytest.mark.slow

TICKET = {"text": "Can I move my session on Friday to the afternoon?", "created_at": "2026-03-02T09:00:00Z"}
WORDS = "my session video login charge refund provider appointment tomorrow cancel password account billing".split()


def _slow_batch(n: int) -> list[dict]:
    """``n`` distinct tickets of about 2,000 characters: a few seconds of scoring on one thread."""
    return [
        {"ticket_id": f"slow-{i}", "text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(250))}
        for i in range(n)
    ]


def _metric(text: str, name: str) -> float:
    """The sum of the samples of ``name`` in a Prometheus exposition (``name`` may carry its labels)."""
    total = 0.0
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == name or sample.startswith(name + "{"):
            total += float(value)
    return total


def test_full_queue_is_503_while_health_answers_and_the_batch_keeps_its_order(trained, tmp_path):
    settings, _ = trained
    tickets = _slow_batch(1500)
    # One thread, no queue: while the batch scores, any other scoring request finds the queue full.
    # Slices of 7 tickets make the batch go back to the queue 215 times, and its answer must still be in order.
    env = server_env(
        settings,
        TRIAGE_MAX_CONCURRENT_SCORING="1",
        TRIAGE_MAX_QUEUED_REQUESTS="0",
        TRIAGE_SCORING_SLICE_ITEMS="7",
        TRIAGE_MAX_BATCH_ITEMS=str(len(tickets)),
        TRIAGE_MAX_BODY_BYTES=str(16 * 2**20),
    )
    server = ServerProcess(env, tmp_path / "server.log")
    answer: dict[str, httpx.Response] = {}

    def post_batch() -> None:
        answer["batch"] = httpx.post(server.url + "/v1/triage/batch", json={"tickets": tickets}, timeout=300)

    try:
        server.wait_until_up()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            batch = threading.Thread(target=post_batch)
            batch.start()
            # The gauge says the batch was admitted and is scoring: the queue is full from here on.
            wait_for(lambda: _metric(http.get("/metrics").text, "triage_scoring_requests") == 1)

            assert http.get("/healthz").json() == {"status": "ok"}
            assert http.get("/readyz").status_code == 200
            for path, body in [("/v1/triage", TICKET), ("/v1/triage/batch", {"tickets": [TICKET]})]:
                busy = http.post(path, json=body)
                assert busy.status_code == 503, path
                assert busy.headers["retry-after"] == "1"
                assert busy.json() == {
                    "detail": "the scoring queue is full (TRIAGE_MAX_CONCURRENT_SCORING + TRIAGE_MAX_QUEUED_REQUESTS = 1); retry shortly",
                    "errors": [],
                }
            assert batch.is_alive()  # all of the above was answered while the batch was being scored

            batch.join(timeout=300)
            response = answer["batch"]
            assert response.status_code == 200
            body = response.json()
            assert (body["n_scored"], body["n_rejected"]) == (len(tickets), 0)
            assert [r["ticket_id"] for r in body["results"]] == [t["ticket_id"] for t in tickets]

            # The place is given back: the next request is scored.
            assert http.post("/v1/triage", json=TICKET).status_code == 200
            metrics = http.get("/metrics").text
            assert _metric(metrics, "triage_scoring_refused_total") == 2
            assert _metric(metrics, "triage_scoring_requests") == 0
    finally:
        server.stop()


def test_batch_in_slices_equals_batch_in_one_call(trained, tmp_path):
    """Decisions do not depend on how a batch is sliced: 3-ticket slices give what one 1,000-ticket call gives."""
    import pandas as pd

    from serving.settings import PROJ_ROOT

    settings, _ = trained
    columns = ["ticket_id", "text", "created_at", "appointment_at", "awaiting_provider_since", "emergency", "timezone"]
    frame = pd.read_csv(PROJ_ROOT / "data" / "sample" / "tickets.csv", dtype=str, nrows=200)[columns]
    rows = [{k: v for k, v in row.items() if isinstance(v, str)} for row in frame.to_dict("records")]
    rows.insert(5, {"ticket_id": "bad", "text": ""})
    rows = [{"created_at": "2026-03-02T09:00:00Z", **row} for row in rows]  # one clock for both servers
    answers = []
    for slice_items in ("3", "1000"):
        server = ServerProcess(server_env(settings, TRIAGE_SCORING_SLICE_ITEMS=slice_items), tmp_path / f"{slice_items}.log")
        try:
            server.wait_until_up()
            answers.append(httpx.post(server.url + "/v1/triage/batch", json={"tickets": rows}, timeout=60).json())
        finally:
            server.stop()
    sliced, whole = answers
    assert sliced == whole
    assert sliced["n_rejected"] == 1 and sliced["results"][5]["index"] == 5


def test_two_workers_share_metrics_load_and_follow_the_alias(trained, tmp_path):
    settings, _ = trained
    shutil.copytree(Path(settings.tracking_uri.removeprefix("sqlite:///")).parent, tmp_path / "store")
    store = make_settings(tmp_path / "store")  # a private copy: moving its champion leaves other tests alone
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = server_env(store, TRIAGE_RELOAD_INTERVAL_S="0.5", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    server = ServerProcess(env, tmp_path / "server.log", ("--workers", "2"))

    def loads() -> int:
        return sum('"model loaded"' in line for line in server.output().splitlines())

    def versions(n: int) -> set[str]:
        # A fresh connection per request, so the kernel may hand each one to either worker.
        return {httpx.get(server.url + "/v1/model", timeout=30).json()["registry_version"] for _ in range(n)}

    try:
        server.wait_until_up()
        # A worker accepts connections only once its model is loaded, so no fresh connection sees a 503,
        # even while the second worker may still be loading.
        assert {httpx.get(server.url + "/readyz", timeout=30).status_code for _ in range(20)} == {200}
        wait_for(lambda: loads() == 2)
        sent = 40
        for i in range(sent):
            assert httpx.post(server.url + "/v1/triage", json={**TICKET, "ticket_id": f"w{i}"}, timeout=30).status_code == 200
        for _ in range(3):  # whichever worker answers /metrics, it reports both
            text = httpx.get(server.url + "/metrics", timeout=30).text
            assert _metric(text, 'triage_http_requests_total{endpoint="/v1/triage",method="POST",status="200"}') == sent
            assert _metric(text, "triage_model_loaded") == 1  # livemin: 1 only when every worker has a model
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2  # one file per worker process

        client = MlflowClient(tracking_uri=store.tracking_uri)
        current = client.get_model_version_by_alias(store.model_name, store.model_alias)
        second = client.create_model_version(store.model_name, current.source, run_id=current.run_id).version
        client.set_registered_model_alias(store.model_name, store.model_alias, second)
        wait_for(lambda: loads() == 4)  # both workers swapped
        assert versions(20) == {str(second)}
        assert httpx.get(server.url + "/readyz", timeout=30).status_code == 200
    finally:
        server.stop()
    # A worker that stops takes its live gauges with it, so a restarted one does not count a ghost.
    assert not list(metrics_dir.glob("gauge_live*.db"))
