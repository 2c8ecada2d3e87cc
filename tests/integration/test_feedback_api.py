"""POST /v1/feedback and its summary against a real `triage serve`, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from serving.feedback.corrections import parse_correction
from serving.feedback.store import FeedbackStore, sqlite_path
from tests.utils.postgres import PostgresServer, PostgresUnavailable
from tests.utils.server import ServerProcess, server_env

pytestmark = pytest.mark.slow

KEY = "feedback-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MARKER = "zebrafinchquartz"  # a word no log line, metric or error may ever contain
CORRECTION = {
    "ticket_id": "T-77",
    "text": f"{MARKER} my insurance card changed, can you update it before Friday?",
    "category": "billing",
    "route": "support_team",
    "rule_id": "BILL-INSURANCE",
    "agent": "agent-3",
    "created_at": "2026-03-02T09:00:00-05:00",
}


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server started for this module (skipped only where it is not installed)."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL not available: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, trained, tmp_path_factory):
    """`triage serve` with API keys, a corrections database of each kind and a 365-day retention period.

    Before start-up the database already holds one correction received 400 days ago, which start-up purges.
    """
    settings, _ = trained
    folder = tmp_path_factory.mktemp(f"feedback-{request.param}")
    url = f"sqlite:///{folder / 'triage.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres").url
    seed = FeedbackStore(url)
    seed.add(parse_correction({**CORRECTION, "ticket_id": "T-old"}), received_at=datetime.now(UTC) - timedelta(days=400))
    seed.close()
    env = server_env(settings, TRIAGE_API_KEYS=KEY, TRIAGE_DATABASE_URL=url, TRIAGE_FEEDBACK_RETENTION_DAYS="365")
    server = ServerProcess(env, folder / "server.log", ("--log-level", "debug"))
    try:
        server.wait_until_up()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield server, client, url
    finally:
        server.stop()


def test_a_correction_is_stored_and_answered_201(served):
    _, client, url = served
    response = client.post("/v1/feedback", json=CORRECTION, headers=AUTH)
    assert response.status_code == 201, response.text
    feedback_id = response.json()["feedback_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", feedback_id)
    assert MARKER not in response.text
    store = FeedbackStore(url)
    try:
        stored = {row["feedback_id"]: row for row in store.rows()}
    finally:
        store.close()
    row = stored[feedback_id]
    assert row["text"] == CORRECTION["text"] and row["category"] == "billing" and row["rule_id"] == "BILL-INSURANCE"
    assert row["created_at"] == datetime(2026, 3, 2, 14, tzinfo=UTC)
    assert "T-old" not in {r["ticket_id"] for r in stored.values()}  # purged at start-up
    path = sqlite_path(url)
    if path is not None:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_feedback_needs_the_same_key_as_every_v1_route(served):
    _, client, _ = served
    for method, path, body in [("POST", "/v1/feedback", CORRECTION), ("GET", "/v1/feedback/summary", None)]:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert MARKER not in response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "banana"}, "category"),
        ({"category": None}, "category"),
        ({"route": "the moon"}, "route"),
        ({"rule_id": "BILL-EVERYTHING"}, "rule_id"),
        ({"text": ""}, "text"),
        ({"text": 42}, "text"),
        ({"ticket_id": None}, "ticket_id"),
        ({"created_at": "last tuesday"}, "created_at"),
    ],
)
def test_an_invalid_correction_is_422_naming_the_field(served, change, field):
    _, client, _ = served
    response = client.post("/v1/feedback", json={**CORRECTION, **change}, headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == field and body["detail"].startswith(f"{field}: ")
    assert MARKER not in response.text


def test_malformed_and_non_object_bodies_are_422(served):
    _, client, _ = served
    raw = client.post("/v1/feedback", content=b'{"text": "' + MARKER.encode() + b'"', headers={**AUTH, "content-type": "application/json"})
    assert raw.status_code == 422 and MARKER not in raw.text
    listed = client.post("/v1/feedback", json=[CORRECTION], headers=AUTH)
    assert listed.status_code == 422 and listed.json()["errors"][0]["field"] == "feedback" and MARKER not in listed.text


def test_summary_counts_by_category_and_rule_and_metrics_count_corrections(served):
    _, client, _ = served
    before = client.get("/v1/feedback/summary", headers=AUTH).json()
    for change in ({}, {"category": "account", "rule_id": "ACCOUNT-SUPPORT", "route": None}, {"category": "account", "rule_id": None}):
        assert client.post("/v1/feedback", json={**CORRECTION, **change}, headers=AUTH).status_code == 201
    summary = client.get("/v1/feedback/summary", headers=AUTH)
    assert summary.status_code == 200 and MARKER not in summary.text
    after = summary.json()
    assert after["total"] == before["total"] + 3
    assert after["by_category"]["account"] == before["by_category"]["account"] + 2
    assert after["by_rule"].get("ACCOUNT-SUPPORT", 0) == before["by_rule"].get("ACCOUNT-SUPPORT", 0) + 1
    metrics = client.get("/metrics", headers=AUTH).text
    assert re.search(r'^triage_feedback_total\{category="account"\} [1-9]', metrics, re.MULTILINE)
    assert MARKER not in metrics


def test_no_correction_text_reaches_the_server_log(served):
    server, client, _ = served
    client.post("/v1/feedback", json=CORRECTION, headers=AUTH)
    client.post("/v1/feedback", json={**CORRECTION, "category": "nope"}, headers=AUTH)
    log = server.output()
    assert "/v1/feedback" in log  # the access lines are there
    assert MARKER not in log
