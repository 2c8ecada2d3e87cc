"""The bad-row zoo of real exports through `triage score` and a real API server: judged alike, none lost.

Both surfaces hand the same JSON values to ``parse_ticket``, so a ticket the API answers with 422
is a reject in batch with the same field and words, and a ticket the API scores is scored in batch.
The one difference is on purpose: batch passes unknown columns through to its output, so a lone
surrogate there is a reject (it cannot be written as UTF-8), while the API ignores unknown fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from serving.batch.io import NOT_UTF8
from serving.tickets import NOT_UNICODE
from tests.utils.fuzz import BOM, MARKER, json_lines
from tests.utils.server import ServerProcess, server_env
from triage.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()

# (line as written in the file, verdict): "scored", or the (field, problem) of the reject.
ZOO: list[tuple[bytes, object]] = [
    (BOM + b'{"ticket_id": "a", "text": "I cannot log in to the portal"}', "scored"),  # Windows export
    (b'{"ticket_id": "b", "text": "\\ud800 help me log in ' + MARKER.encode() + b'"}', ("text", NOT_UNICODE)),
    (b'{"ticket_id": "c", "text": 42}', ("text", "must be a string")),
    (b'{"ticket_id": "d", "text": {"subject": "hi ' + MARKER.encode() + b'"}}', ("text", "must be a string")),
    (b'{"ticket_id": {"name": "' + MARKER.encode() + b'"}, "text": "my bill is wrong"}', ("ticket_id", "must be a string or a number")),
    (b'{"ticket_id": "f", "text": "refund\\u0000 please, I was charged twice"}', "scored"),  # a NUL
    (b'{"ticket_id": "g", "text": "\\ud83d\\ude00 thanks, how do I change my email?"}', "scored"),  # a valid pair
    (b'{"ticket_id": true, "text": "the video keeps freezing"}', ("ticket_id", "must be a string or a number")),
    (b'{"ticket_id": 12.0, "text": "I forgot my password"}', "scored"),
    (b'{"ticket_id": "j", "text": "cancel tomorrow", "timezone": "\\udfff"}', ("timezone", NOT_UNICODE)),
    (b'{"ticket_id": "k", "text": 7, "timezone": "\\ud800"}', ("text", "must be a string")),  # the API's first error
    (b'{"ticket_id": "l", "text": "move my session", "created_at": "2026-03-02T09:00:00", "emergency": "yes"}', "scored"),
    (b'{"ticket_id": "m", "text": "' + MARKER.encode() + b' cut off', ("row", "is not a JSON object")),
    (b"", None),  # a blank line is not a row
    (b'["' + MARKER.encode() + b'"]', ("row", "is not a JSON object")),
    (b'{"ticket_id": "o", "text": "caf\xe9 \xff ' + MARKER.encode() + b'"}', ("text", NOT_UTF8)),
    (BOM + b'{"ticket_id": "p", "text": "a file appended to another keeps its BOM"}', "scored"),
    (b'{"ticket_id": "r", "text": 7, "note": "\\ud800"}', ("text", "must be a string")),  # contract fields first
]
# Batch only: a lone surrogate in a column batch would write out.
PASS_THROUGH_SURROGATE = (b'{"ticket_id": "q", "text": "where is my invoice", "note": "\\ud800"}', ("note", NOT_UNICODE))
ROWS = [(line, verdict) for line, verdict in [*ZOO, PASS_THROUGH_SURROGATE] if verdict is not None]
PASS_THROUGH_ROW = len(ROWS)


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    settings, _ = trained
    process = ServerProcess(server_env(settings), tmp_path_factory.mktemp("zoo") / "server.log")
    try:
        process.wait_until_up()
        yield process
    finally:
        process.stop()


@pytest.fixture
def cli_env(trained, monkeypatch):
    from serving.settings import get_settings

    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained[0].tracking_uri)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def score_zoo(folder: Path, workers: str, chunk_size: str) -> tuple[object, list[dict], list[dict]]:
    source = folder / "backlog.jsonl"
    source.write_bytes(b"\n".join(line for line, _ in [*ZOO, PASS_THROUGH_SURROGATE]) + b"\n")
    output = folder / "scored.jsonl"
    result = runner.invoke(app, ["score", str(source), "-o", str(output), "--workers", workers, "--chunk-size", chunk_size])
    scored = json_lines(output) if output.exists() else []
    rejects_path = folder / "scored.rejects.jsonl"
    rejects = json_lines(rejects_path) if rejects_path.exists() else []
    return result, scored, rejects


@pytest.mark.parametrize(("workers", "chunk_size"), [("0", "20000"), ("2", "1")])
def test_the_zoo_scores_every_good_row_and_accounts_for_every_line(cli_env, tmp_path, workers, chunk_size):
    result, scored, rejects = score_zoo(tmp_path, workers, chunk_size)
    assert result.exit_code == 0, result.output
    good = [i for i, (_, verdict) in enumerate(ROWS, 1) if verdict == "scored"]
    bad = {i: verdict for i, (_, verdict) in enumerate(ROWS, 1) if verdict != "scored"}
    assert f"rows in {len(ROWS)}, scored {len(good)}, rejected {len(bad)}" in result.stderr
    assert [row["ticket_id"] for row in scored] == ["a", "f", "g", "12", "l", "p"]
    assert {r["row"]: (r["field"], r["reason"]) for r in rejects} == {
        i: (field, f"{field}: {problem}") for i, (field, problem) in bad.items()
    }
    # An id is echoed only when it cannot be text: the object and the boolean ids are not.
    assert {r["row"]: r["ticket_id"] for r in rejects} == {
        2: "b", 3: "c", 4: "d", 5: None, 8: None, 10: "j", 11: "k", 13: None, 14: None, 15: "o", 17: "r", 18: "q",
    }
    assert MARKER not in (tmp_path / "scored.rejects.jsonl").read_text()
    assert MARKER not in result.stdout + result.stderr


def test_the_api_judges_every_ticket_as_batch_does_and_never_fails(server, cli_env, tmp_path):
    result, scored, rejects = score_zoo(tmp_path, "0", "20000")
    assert result.exit_code == 0, result.output
    batch_verdicts = {r["row"]: (r["field"], r["reason"]) for r in rejects}
    objects = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for row, (line, verdict) in enumerate(ROWS, 1):
            body = line.removeprefix(BOM)
            response = http.post("/v1/triage", content=body, headers={"content-type": "application/json"})
            assert response.status_code < 500, (row, response.status_code)
            assert MARKER not in response.text
            try:
                ticket = json.loads(body.decode("utf-8"))
            except ValueError:  # not JSON (or not UTF-8) at all: the API's body error, the batch reject above
                assert response.status_code in (400, 422) and row in batch_verdicts
                continue
            if not isinstance(ticket, dict):
                assert response.status_code == 422 and response.json()["errors"][0]["field"] == "ticket"
                continue
            objects.append((row, ticket))
            if row == PASS_THROUGH_ROW:
                assert response.status_code == 200  # the API ignores unknown fields
            elif row in batch_verdicts:
                assert response.status_code == 422, row
                error = response.json()["errors"][0]
                assert (error["field"], f"{error['field']}: {error['problem']}") == batch_verdicts[row]
            else:
                assert response.status_code == 200, (row, response.text)
                assert response.json()["category"] == next(s for s in scored if s["ticket_id"] == response.json()["ticket_id"])["category"]

        # The same tickets in one batch request: one answer each, the same verdicts.
        body = json.dumps({"tickets": [ticket for _, ticket in objects]}).encode()
        response = http.post("/v1/triage/batch", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 200
        answer = response.json()
        assert answer["n_scored"] + answer["n_rejected"] == len(objects)
        for (row, _), item in zip(objects, answer["results"]):
            if row == PASS_THROUGH_ROW or row not in batch_verdicts:
                assert "problem" not in item, row
            else:
                assert (item["field"], f"{item['field']}: {item['problem']}") == batch_verdicts[row]
    assert MARKER not in server.output()
