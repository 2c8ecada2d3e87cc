"""Batch scoring end to end through ``triage score``: bad rows, formats, whole-file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.generate import generate_tickets
from serving.decision import DECISION_COLUMNS
from triage.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()
# Bad rows by data-row number (1-based) -> the field the reject must name.
BAD_ROWS = {
    3: ("text", {"text": ""}),
    7: ("text", {"text": "   \n\t "}),
    11: ("created_at", {"created_at": "next tuesday-ish"}),
    14: ("appointment_at", {"appointment_at": "2024-13-45T99:00"}),
    18: ("timezone", {"timezone": "Mars/Olympus_Mons"}),
    21: ("emergency", {"emergency": "maybe"}),
    25: ("text", {"text": "x" * 20_001}),
}
BROKEN_ROW = 29  # invalid UTF-8 bytes in the text (CSV and JSON Lines only)
N_ROWS = 40


@pytest.fixture
def cli_env(trained, monkeypatch):
    """Point the CLI's settings at the test registry."""
    from serving.settings import get_settings

    settings, _ = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def messy_rows() -> list[dict[str, str]]:
    """Generated tickets with every kind of bad row mixed in, plus an extra pass-through column."""
    rows = generate_tickets(N_ROWS, seed=7)
    for number, (_, change) in BAD_ROWS.items():
        rows[number - 1].update(change)
    for i, row in enumerate(rows):
        row["Agent note"] = f"note {i}"
    return rows


def write_messy(path: Path) -> None:
    """Write the messy rows in the format of ``path``; a sentinel is replaced by invalid bytes."""
    rows = messy_rows()
    if path.suffix != ".parquet":
        rows[BROKEN_ROW - 1]["text"] = "My bill shows SENTINEL twice, please check"
    frame = pd.DataFrame(rows, dtype=str)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)
    if path.suffix != ".parquet":
        path.write_bytes(path.read_bytes().replace(b"SENTINEL", b"caf\xe9 \xff\xfe"))


def read_any(path: Path) -> pd.DataFrame:
    """Read an output file back with every value as written."""
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_parquet(path)


def read_rejects(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("source", "target", "workers"),
    [(".csv", ".csv", "2"), (".jsonl", ".jsonl", "0"), (".parquet", ".parquet", "0"), (".csv", ".parquet", "0")],
)
def test_bad_rows_are_rejected_and_counted(cli_env, tmp_path, source, target, workers):
    source_path = tmp_path / f"in{source}"
    write_messy(source_path)
    output = tmp_path / f"scored{target}"
    result = runner.invoke(
        app, ["score", str(source_path), "-o", str(output), "--chunk-size", "9", "--workers", workers]
    )
    assert result.exit_code == 0, result.output

    rejects = read_rejects(tmp_path / "scored.rejects.jsonl")
    expected = {n: field for n, (field, _) in BAD_ROWS.items()}
    if source != ".parquet":
        expected[BROKEN_ROW] = "text"
    assert {r["row"]: r["field"] for r in rejects} == expected
    for reject in rejects:
        assert reject["reason"].startswith(reject["field"] + ":")
        assert reject["ticket_id"] == f"T{reject['row']:07d}"
        assert "SENTINEL" not in reject["reason"] and "xxxx" not in reject["reason"]

    scored = read_any(output)
    assert len(scored) + len(rejects) == N_ROWS  # the conservation law
    assert f"rows in {N_ROWS}, scored {len(scored)}, rejected {len(rejects)}" in result.output
    # Input columns first and untouched (a clashing ``category`` is kept as ``input_category``),
    # then the contract's columns.
    good = pd.DataFrame([r for i, r in enumerate(messy_rows(), 1) if i not in expected], dtype=str)
    assert list(scored.columns[-len(DECISION_COLUMNS):]) == list(DECISION_COLUMNS)
    assert scored["Agent note"].tolist() == good["Agent note"].tolist()
    assert scored["input_category"].tolist() == good["category"].tolist()
    assert scored["text"].tolist() == good["text"].tolist()
    assert scored["ticket_id"].tolist() == good["ticket_id"].tolist()
    assert set(scored["route"]) <= {"provider", "support_team"}
    if target == ".parquet":
        assert scored["confidence"].dtype == "float64" and scored["needs_review"].dtype == bool


def test_zendesk_export_with_column_mapping(cli_env, tmp_path):
    source = tmp_path / "zendesk.csv"
    pd.DataFrame(
        {
            "Id": ["101", "102", "103"],
            "Subject": ["Refill", "", "Login"],
            "Description": ["My sertraline refill is late", "", "I am locked out after too many attempts"],
            "Created at": ["2026-03-02T09:00:00-05:00", "2026-03-02T09:00:00-05:00", "2026-03-02 10:00"],
            "Requester time zone": ["America/New_York", "America/New_York", "America/Chicago"],
        }
    ).to_csv(source, index=False)
    output = tmp_path / "out.jsonl"
    result = runner.invoke(
        app,
        [
            "score", str(source), "-o", str(output), "--text-col", "Subject,Description", "--id-col", "Id",
            "--map", "created_at=Created at", "--map", "timezone=Requester time zone", "--workers", "0",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = read_any(output)
    assert scored["ticket_id"].astype(str).tolist() == ["101", "103"]
    assert scored["Subject"].tolist() == ["Refill", "Login"]
    assert read_rejects(tmp_path / "out.rejects.jsonl") == [
        {"row": 2, "ticket_id": "102", "field": "text", "reason": "text: is required"}
    ]


def test_rows_without_an_id_are_known_by_row_number(cli_env, tmp_path):
    source = tmp_path / "plain.csv"
    source.write_text("text\nI can't log in\n\nmy bill is wrong\n")
    result = runner.invoke(app, ["score", str(source), "-o", str(tmp_path / "o.csv"), "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert read_any(tmp_path / "o.csv")["ticket_id"].tolist() == ["1", "2"]  # blank lines are not rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "-o", "{tmp}/o.csv"], "is not a file"),
        (["{tmp}/in.txt", "-o", "{tmp}/o.csv"], "unknown extension"),
        (["{tmp}/in.csv", "-o", "{tmp}/o.xlsx"], "unknown extension"),
        (["{tmp}/notext.csv", "-o", "{tmp}/o.csv"], "no column 'text'"),
        (["{tmp}/in.csv", "-o", "{tmp}/o.csv", "--text-col", "Subject,Body"], "no column 'Subject'"),
        (["{tmp}/in.csv", "-o", "{tmp}/nowhere/o.csv"], "does not exist"),
        (["{tmp}/in.csv", "-o", "{tmp}/o.csv", "--model", "models:/no-such-model@champion"], "--model"),
        (["{tmp}/in.csv", "-o", "{tmp}/o.csv", "--map", "colour=text"], "--map"),
        (["{tmp}/empty.csv", "-o", "{tmp}/o.csv"], "empty"),
    ],
)
def test_whole_file_problems_exit_2(cli_env, tmp_path, args, message):
    (tmp_path / "in.csv").write_text("text\nhello\n")
    (tmp_path / "in.txt").write_text("text\nhello\n")
    (tmp_path / "notext.csv").write_text("body\nhello\n")
    (tmp_path / "empty.csv").write_text("")
    result = runner.invoke(app, ["score", *(a.format(tmp=tmp_path) for a in args), "--workers", "0"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "o.csv").exists()
