"""The corrections store on a real SQLite file: validation, Alembic schema, privacy, retention, files in and out."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from serving.feedback.corrections import parse_correction
from serving.feedback.store import FeedbackStore, FeedbackStoreError, open_store, store_exists
from serving.feedback.transfer import FeedbackFileError, export_corrections, import_corrections
from serving.tickets import TicketError
from triage.cli import app

MARKER = "zebrafinchquartz"
GOOD = {"ticket_id": "T-1", "text": f"{MARKER} my card was charged twice", "category": "billing"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ticket_id": None}, "ticket_id"),
        ({"ticket_id": ["x"]}, "ticket_id"),
        ({"text": "   "}, "text"),
        ({"text": 12}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"category": None}, "category"),
        ({"category": MARKER}, "category"),
        ({"route": "somewhere"}, "route"),
        ({"rule_id": "SCHED-SOMETIME"}, "rule_id"),
        ({"created_at": "yesterday " + MARKER}, "created_at"),
        ({"agent": "a" * 201}, "agent"),
        ({"intent": {"nested": MARKER}}, "intent"),
    ],
)
def test_a_bad_correction_names_the_field_never_the_value(change, field):
    with pytest.raises(TicketError) as caught:
        parse_correction({**GOOD, **change})
    assert caught.value.field == field
    assert MARKER not in str(caught.value)


def test_a_good_correction_is_trimmed_and_typed():
    correction = parse_correction(
        {**GOOD, "ticket_id": 12.0, "route": "provider", "rule_id": "BILL-PROVIDER-FIRST", "created_at": "2026-03-02T09:00:00-05:00"}
    )
    assert correction.ticket_id == "12" and correction.route == "provider"
    assert correction.created_at == datetime(2026, 3, 2, 14, tzinfo=UTC)


def test_sqlite_file_is_private_and_migrated_by_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'triage.db'}"
    assert not store_exists(url)
    store = FeedbackStore(url)
    feedback_id = store.add(parse_correction(GOOD))
    store.close()
    for path in (tmp_path / "sub").iterdir():  # the database and SQLite's WAL files
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    assert {c["name"] for c in inspect(engine).get_columns("corrections")} >= {"feedback_id", "text", "category", "received_at"}
    engine.dispose()
    reopened = FeedbackStore(url)  # migrating again is a no-op
    assert [r["feedback_id"] for r in reopened.rows()] == [feedback_id]
    reopened.close()


def test_summary_counts_without_text_and_retention_purges_old_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    store = FeedbackStore(url)
    old = datetime.now(UTC) - timedelta(days=40)
    store.add(parse_correction({**GOOD, "rule_id": "BILL-INSURANCE"}), received_at=old)
    store.add(parse_correction({**GOOD, "category": "account", "rule_id": "ACCOUNT-SUPPORT"}))
    store.add(parse_correction({**GOOD, "category": "account"}))
    summary = store.summary()
    assert summary == {
        "total": 3,
        "by_category": {"clinical": 0, "scheduling": 0, "billing": 1, "technical": 0, "account": 2},
        "by_rule": {"ACCOUNT-SUPPORT": 1, "BILL-INSURANCE": 1},
    }
    assert MARKER not in json.dumps(summary)
    store.close()
    assert open_store(url, retention_days=30).summary()["total"] == 2


def test_database_errors_name_no_value(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'triage.db'}")
    feedback_id = store.add(parse_correction(GOOD))
    with pytest.raises(FeedbackStoreError) as caught:
        store.add(parse_correction(GOOD), feedback_id=feedback_id)  # primary key taken
    assert MARKER not in str(caught.value) and "IntegrityError" in str(caught.value)
    assert caught.value.__cause__ is None
    store.close()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_export_then_import_round_trips_and_skips_what_is_stored(tmp_path, suffix):
    source = FeedbackStore(f"sqlite:///{tmp_path / 'a.db'}")
    source.add(parse_correction({**GOOD, "created_at": "2026-03-02T09:00:00-05:00", "rule_id": "BILL-INSURANCE", "agent": "a-1"}))
    source.add(parse_correction({**GOOD, "ticket_id": "T-2", "text": "línea dos\nwith a newline, and \"quotes\"", "category": "technical"}))
    path = tmp_path / f"corrections{suffix}"
    assert export_corrections(source, path) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    target = FeedbackStore(f"sqlite:///{tmp_path / 'b.db'}")
    assert import_corrections(target, path) == (2, 0)
    assert import_corrections(target, path) == (0, 2)
    assert target.rows() == source.rows()
    source.close()
    target.close()


def test_import_is_all_or_nothing_and_lists_bad_rows_without_text(tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame(
        {
            "ticket_id": ["a", "b", "c"],
            "text": [f"{MARKER} fine", f"{MARKER} also fine", ""],
            "category": ["billing", MARKER, "account"],
        }
    ).to_csv(path, index=False)
    store = FeedbackStore(f"sqlite:///{tmp_path / 'triage.db'}")
    with pytest.raises(FeedbackFileError) as caught:
        import_corrections(store, path)
    message = str(caught.value)
    assert "row 2: category: unknown category" in message and "row 3: text: is empty" in message
    assert MARKER not in message
    assert store.summary()["total"] == 0
    store.close()


def test_feedback_commands_export_and_import(tmp_path):
    runner = CliRunner()
    env = {"TRIAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"}
    source = tmp_path / "collected.jsonl"
    source.write_text("".join(json.dumps({**GOOD, "ticket_id": f"T-{i}"}) + "\n" for i in range(3)))
    from serving.settings import get_settings

    try:
        get_settings.cache_clear()
        result = runner.invoke(app, ["feedback", "import", str(source)], env=env)
        assert result.exit_code == 0, result.output
        assert "imported 3 correction(s)" in result.output
        out = tmp_path / "out.parquet"
        result = runner.invoke(app, ["feedback", "export", "-o", str(out)], env=env)
        assert result.exit_code == 0, result.output
        assert pd.read_parquet(out)["ticket_id"].tolist() == ["T-0", "T-1", "T-2"]
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps({**GOOD, "category": "nope"}) + "\n")
        result = runner.invoke(app, ["feedback", "import", str(bad)], env=env)
        assert result.exit_code == 2 and "row 1: category" in result.output and MARKER not in result.output
        assert runner.invoke(app, ["feedback", "export", "-o", str(tmp_path / "x.txt")], env=env).exit_code == 2
    finally:
        get_settings.cache_clear()
