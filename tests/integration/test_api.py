"""The scoring API against a real `triage serve` process on a loopback port, with API keys on."""

from __future__ import annotations

import json
import logging

import httpx
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.utils.server import ServerProcess, server_env

pytestmark = pytest.mark.slow

KEY = "test-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_BATCH = 50
MARKER = "zebrafinchquartz"  # a word no log line, metric or error may ever contain
TICKET = {
    "ticket_id": "T-1",
    "text": "I need to cancel my session tomorrow at 3pm, my mother is in the hospital.",
    "created_at": "2026-03-02T09:00:00-05:00",
    "timezone": "America/New_York",
}


@pytest.fixture(scope="module")
def api(trained, tmp_path_factory):
    """A served champion with two API keys; yields (server, settings, training summary)."""
    settings, summary = trained
    env = server_env(settings, TRIAGE_API_KEYS=f"other-key, {KEY}", TRIAGE_MAX_BATCH_ITEMS=str(MAX_BATCH))
    server = ServerProcess(env, tmp_path_factory.mktemp("api") / "server.log", ("--log-level", "debug"))
    try:
        server.wait_until_up()
        yield server, settings, summary
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(api):
    server, _, _ = api
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def test_health_and_ready_are_open(client, api):
    _, _, summary = api
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model_version"] == str(summary["version"])


def test_triage_one_returns_the_full_decision(client, api):
    _, _, summary = api
    response = client.post("/v1/triage", json=TICKET, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["ticket_id"] == "T-1"
    assert set(body["probabilities"]) == {"clinical", "scheduling", "billing", "technical", "account"}
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-6
    assert body["confidence"] == pytest.approx(body["probabilities"][body["category"]])
    assert body["route"] in ("provider", "support_team")
    assert body["model_version"] == str(summary["version"])
    assert body["reason"]
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": "Basic dGVzdA=="}, 401),
     ({"Authorization": "Bearer ключ".encode()}, 401), (AUTH, 200), ({"Authorization": "Bearer other-key"}, 200)],
)
def test_v1_and_metrics_need_a_key(client, headers, status):
    for method, path, body in [("POST", "/v1/triage", TICKET), ("GET", "/v1/model", None), ("GET", "/metrics", None)]:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, path
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["detail"] == "missing or invalid API key"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": None}, "text"),
        ({"text": "   "}, "text"),
        ({"text": 42}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"created_at": "next tuesday"}, "created_at"),
        ({"created_at": 5}, "created_at"),
        ({"appointment_at": "2026-13-45T99:00"}, "appointment_at"),
        ({"awaiting_provider_since": "yesterday"}, "awaiting_provider_since"),
        ({"emergency": "maybe"}, "emergency"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ],
)
def test_invalid_ticket_is_422_naming_the_field(client, change, field):
    ticket = {**TICKET, "text": f"{MARKER} {TICKET['text']}", **change}
    response = client.post("/v1/triage", json=ticket, headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == field
    assert body["detail"].startswith(f"{field}: ")
    assert MARKER not in response.text


@pytest.mark.parametrize("body", [[1, 2], "just a string", 7])
def test_non_object_body_is_422(client, body):
    response = client.post("/v1/triage", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "ticket"


@pytest.mark.parametrize("raw", [b'{"text": "' + MARKER.encode() + b' cancel', b"\xff\xfe", b"", b"{'text': 1}"])
def test_malformed_json_is_4xx_without_echo(client, raw):
    response = client.post("/v1/triage", content=raw, headers={**AUTH, "content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert MARKER not in response.text
    assert "input" not in response.json()


def test_body_over_the_limit_is_413_by_header_and_by_stream(client):
    big = json.dumps({"text": MARKER + " " + "x" * 1_100_000}).encode()
    by_header = client.post("/v1/triage", content=big, headers={**AUTH, "content-type": "application/json"})
    assert by_header.status_code == 413

    def chunks():  # no Content-Length: only counting the streamed bytes can catch it
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    by_stream = client.post("/v1/triage", content=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert by_stream.status_code == 413
    assert MARKER not in by_header.text + by_stream.text


def test_batch_keeps_order_and_reports_bad_items(client, api):
    _, _, summary = api
    tickets = [
        {"ticket_id": "a", "text": "How do I change the email address on my account?"},
        {"ticket_id": "b", "text": ""},
        {"ticket_id": "c", "text": "I was charged twice for last week's session.", "created_at": "garbage"},
        "not an object",
        {"ticket_id": "e", "text": "The video keeps freezing during my sessions."},
        {"text": "My provider has not replied and I need my refill.", "emergency": "perhaps"},
    ]
    response = client.post("/v1/triage/batch", json={"tickets": tickets}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    assert len(results) == len(tickets)
    assert (body["n_scored"], body["n_rejected"]) == (2, 4)
    assert results[0]["ticket_id"] == "a" and results[0]["model_version"] == str(summary["version"])
    assert results[4]["ticket_id"] == "e" and "rule_id" in results[4]
    assert results[1] == {"index": 1, "ticket_id": "b", "field": "text", "problem": "is empty after trimming whitespace"}
    assert (results[2]["index"], results[2]["field"]) == (2, "created_at")
    assert (results[3]["index"], results[3]["field"]) == (3, "ticket")
    assert (results[5]["index"], results[5]["field"], results[5]["ticket_id"]) == (5, "emergency", None)


def test_batch_over_the_item_limit_is_422(client):
    response = client.post("/v1/triage/batch", json={"tickets": [TICKET] * (MAX_BATCH + 1)}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "tickets"


def test_model_info(client, api):
    _, _, summary = api
    body = client.get("/v1/model", headers=AUTH).json()
    assert body["version"] == str(summary["version"])
    assert body["run_id"] == summary["run_id"]
    assert body["trained_at"]
    assert body["metrics"]["holdout_macro_f1"] == pytest.approx(summary["holdout"]["macro_f1"])
    assert set(body["thresholds"]) == {"clinical", "scheduling", "billing", "technical", "account"}


def test_reload_without_a_new_champion_changes_nothing(client, api):
    _, _, summary = api
    assert client.post("/v1/model/reload").status_code == 401
    body = client.post("/v1/model/reload", headers=AUTH).json()
    assert body["reloaded"] is False and body["version"] == str(summary["version"])


def test_metrics_use_route_templates_and_contract_labels(client):
    client.post("/v1/triage", json=TICKET, headers=AUTH)
    client.get("/no/such/path/" + MARKER)
    text = client.get("/metrics", headers=AUTH).text
    assert 'triage_http_requests_total{endpoint="/v1/triage",method="POST",status="200"}' in text
    assert 'endpoint="unmatched"' in text
    assert "triage_http_request_duration_seconds_bucket" in text
    assert "triage_decisions_total{category=" in text
    assert "triage_needs_review_total" in text and "triage_safety_flag_total" in text
    assert "triage_model_info{version=" in text
    assert MARKER not in text


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", headers={"X-Request-ID": "req-123"})
    assert given.headers["x-request-id"] == "req-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] not in ("", "bad id with spaces")


def test_openapi_and_docs(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/v1/triage", "/v1/triage/batch", "/healthz", "/readyz", "/metrics", "/v1/model"} <= set(schema["paths"])
    assert {"TicketIn", "DecisionOut", "BatchIn", "BatchOut", "ErrorOut"} <= set(schema["components"]["schemas"])


def test_no_cors_headers_by_default(client):
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_ticket_text_reaches_no_log_line(client, api):
    server, _, _ = api
    ticket = {**TICKET, "text": f"{MARKER} I want to cancel tomorrow's session", "ticket_id": "marker-1"}
    assert client.post("/v1/triage", json=ticket, headers=AUTH).status_code == 200
    assert client.post("/v1/triage", json={**ticket, "created_at": "bad"}, headers=AUTH).status_code == 422
    assert client.post("/v1/triage/batch", json={"tickets": [ticket, {**ticket, "timezone": "X/Y"}]}, headers=AUTH).status_code == 200
    client.post("/v1/triage?note=" + MARKER, json=ticket, headers=AUTH)
    client.post("/v1/triage", content=b'{"text": "' + MARKER.encode(), headers={**AUTH, "content-type": "application/json"})
    client.post("/v1/triage", json=ticket)  # unauthenticated
    output = server.output()
    lines = [line for line in output.splitlines() if line.strip()]
    assert any('"endpoint": "/v1/triage"' in line for line in lines)
    assert MARKER not in output
    # Every line the server writes is a JSON object carrying a request id.
    for line in lines:
        record = json.loads(line)
        assert "request_id" in record, line


def test_in_process_log_records_hold_no_ticket_text(trained, caplog):
    from fastapi.testclient import TestClient

    from serving.api.main import create_app

    settings, _ = trained
    app = create_app(settings.model_copy(update={"reload_interval_s": 0}))
    with caplog.at_level(logging.DEBUG), TestClient(app) as http:
        ticket = {**TICKET, "text": f"{MARKER} please move my appointment"}
        assert http.post("/v1/triage", json=ticket).status_code == 200
        assert http.post("/v1/triage", json={**ticket, "appointment_at": "nope"}).status_code == 422
    assert caplog.records
    for record in caplog.records:
        assert MARKER not in record.getMessage()
        assert MARKER not in repr(record.__dict__)


# The intents the learned signals come from and their near misses, where the signals decide the rule.
SIGNAL_INTENTS = (
    "locked_out", "password_reset", "two_step", "medication_refill_urgent", "medication_question", "end_care",
    "therapy_question", "provider_no_show", "missed_own_session", "recurring_series", "reschedule",
    "insurance_update", "in_network_check", "fee_dispute", "emergency_cancel", "cancel_late",
)  # fmt: skip


@pytest.mark.parametrize("pick", ["any", "signal intents"])
def test_api_batch_scoring_and_pyfunc_agree(client, api, champion, pick):
    """The same ~50 tickets through the API, score_batch and the registered pyfunc give the same decisions."""
    import mlflow

    from serving.scoring import score_batch
    from serving.settings import PROJ_ROOT

    _, settings, _ = api
    columns = ["ticket_id", "text", "created_at", "appointment_at", "awaiting_provider_since", "emergency", "timezone"]
    sample = pd.read_csv(PROJ_ROOT / "data" / "sample" / "tickets.csv", dtype=str)
    if pick == "signal intents":
        sample = sample[sample["intent"].isin(SIGNAL_INTENTS)]
    frame = sample.sample(n=50, random_state=7)[columns]
    rows = [{k: v for k, v in row.items() if isinstance(v, str)} for row in frame.to_dict("records")]

    api_results = client.post("/v1/triage/batch", json={"tickets": rows}, headers=AUTH).json()["results"]
    single = [client.post("/v1/triage", json=row, headers=AUTH).json() for row in rows[:10]]
    local = [d.to_dict() for d in score_batch(champion, rows)]
    mlflow.set_tracking_uri(settings.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(settings.model_uri).predict(frame.reset_index(drop=True))

    keys = ("ticket_id", "category", "route", "rule_id", "needs_review", "safety_flag", "appointment_source", "model_version")
    for i, (from_api, from_core) in enumerate(zip(api_results, local)):
        assert {k: from_api[k] for k in keys} == {k: from_core[k] for k in keys}
        assert from_api["confidence"] == pytest.approx(from_core["confidence"], abs=1e-9)
        assert from_api["hours_until_appointment"] == pytest.approx(from_core["hours_until_appointment"], abs=1e-6)
        row = pyfunc.iloc[i]
        assert row["error"] is None or pd.isna(row["error"])
        assert {k: (None if pd.isna(row[k]) else row[k]) for k in keys if k != "needs_review" and k != "safety_flag"} == {
            k: from_core[k] for k in keys if k != "needs_review" and k != "safety_flag"
        }
        assert bool(row["needs_review"]) == from_core["needs_review"]
        assert bool(row["safety_flag"]) == from_core["safety_flag"]
        assert row["confidence"] == pytest.approx(from_core["confidence"], abs=1e-9)
    for from_single, from_batch in zip(single, api_results):
        assert from_single == from_batch



def test_schemathesis_finds_no_server_error(api):
    """Property-based requests from the OpenAPI document, valid and invalid, never get a 5xx."""
    from schemathesis.generation import GenerationMode

    server, _, _ = api
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            # 25 valid + 25 invalid examples per operation keep the run bounded.
            @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:
                response = case.call(headers=AUTH, timeout=30)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path} -> {response.status_code}")
                assert MARKER not in response.text

            try:
                check()
            except Unsatisfiable:  # no invalid request exists for an operation without inputs (GET /healthz)
                assert mode is GenerationMode.NEGATIVE
    assert not failures, failures


def test_concurrent_requests_all_succeed(client, api):
    """Eight clients at once: the model is shared safely (model2vec's tokenizer is not thread-safe)."""
    from concurrent.futures import ThreadPoolExecutor

    server, _, _ = api

    def send(i: int) -> int:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            codes = [http.post("/v1/triage", json={**TICKET, "ticket_id": f"c{i}-{j}"}, headers=AUTH).status_code for j in range(10)]
            codes.append(http.post("/v1/triage/batch", json={"tickets": [TICKET] * 5}, headers=AUTH).status_code)
            return max(codes)

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(send, range(8))) == {200}
