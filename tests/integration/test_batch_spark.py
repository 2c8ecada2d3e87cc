"""The Spark engine (the registered pyfunc as spark_udf) decides exactly like the local engine."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.generate import write_tickets
from triage.cli import app

# Skipped only when pyspark or Java is genuinely missing; CI installs the spark extra, so it runs there.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Java is not installed"),
]


def _score_with_both_engines(settings, source, tmp_path, monkeypatch) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """``triage score`` on ``source`` with the local and the Spark engine: (local output, Spark output, both rejects)."""
    from serving.settings import get_settings

    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
    get_settings.cache_clear()
    runner = CliRunner()
    local = runner.invoke(app, ["score", str(source), "-o", str(tmp_path / "local.parquet"), "--workers", "0"])
    assert local.exit_code == 0, local.output
    spark = runner.invoke(
        app, ["score", str(source), "-o", str(tmp_path / "spark.parquet"), "--engine", "spark", "--spark-master", "local[2]"]
    )
    assert spark.exit_code == 0, spark.output
    get_settings.cache_clear()
    rejects = [(tmp_path / f"{name}.rejects.jsonl").read_text() for name in ("local", "spark")]
    return pd.read_parquet(tmp_path / "local.parquet"), pd.read_parquet(tmp_path / "spark.parquet"), rejects


def _assert_same_decisions(a: pd.DataFrame, b: pd.DataFrame) -> None:
    for column in ("ticket_id", "category", "route", "rule_id", "needs_review", "safety_flag", "text"):
        assert a[column].tolist() == b[column].tolist(), column
    pd.testing.assert_series_equal(a["confidence"], b["confidence"], check_exact=False, rtol=1e-9)


def test_spark_and_local_engines_agree(trained, tmp_path, monkeypatch):
    settings, _ = trained
    source = write_tickets(tmp_path / "tickets.csv", 300, seed=11)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame.loc[[4, 90], "text"] = ""  # two rejects, to check both engines drop the same rows
    frame.loc[[10, 20, 30], "created_at"] = ""  # scored against the run's start time
    frame.to_csv(source, index=False)

    a, b, rejects = _score_with_both_engines(settings, source, tmp_path, monkeypatch)
    assert len(a) == len(b) == 298
    _assert_same_decisions(a, b)
    assert rejects[0] == rejects[1]


# Bytes that are not UTF-8 (Latin-1 "é", a stray continuation byte), put into the files after writing.
INVALID = {"@@CAFE@@": b"caf\xe9", "@@STRAY@@": b"\x80\x80"}


def _write_backlog(frame: pd.DataFrame, path, kind: str) -> None:
    """Write ``frame`` as ``kind``, then replace the markers by invalid UTF-8 (text formats only)."""
    if kind == "parquet":
        frame.to_parquet(path, index=False)
        return
    if kind == "csv":
        data = frame.to_csv(index=False).encode("utf-8")
    else:
        # Most lines carry U+FFFD as UTF-8 bytes, every fifth as the JSON escape \ufffd.
        lines = [json.dumps(r, ensure_ascii=i % 5 == 0) for i, r in enumerate(frame.to_dict(orient="records"))]
        data = ("\n".join(lines) + "\n").encode("utf-8") + b"\xff not even JSON\n"
    for marker, raw in INVALID.items():
        data = data.replace(marker.encode(), raw)
    path.write_bytes(data)


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_both_engines_score_text_holding_u_fffd_and_reject_invalid_utf8_alike(trained, tmp_path, monkeypatch, kind):
    settings, _ = trained
    frame = pd.read_csv(write_tickets(tmp_path / "tickets.csv", 60, seed=5), dtype=str, keep_default_na=False)
    # U+FFFD is a character like any other: what an earlier system wrote for bytes it could not read.
    frame.loc[[1, 8, 30], "text"] = ["My invoice shows \ufffd\ufffd instead of the amount", "\ufffd", "Can\ufffdt log in since the update"]
    frame.loc[12, "ticket_id"] = "T-\ufffd-12"
    if kind != "parquet":
        frame.loc[20, "text"] = "The @@CAFE@@ video call froze"
        frame.loc[41, "ticket_id"] = "T@@STRAY@@41"
    source = tmp_path / f"backlog.{kind}"
    _write_backlog(frame, source, kind)

    a, b, rejects = _score_with_both_engines(settings, source, tmp_path, monkeypatch)
    assert len(a) == len(b) == (60 if kind == "parquet" else 58)
    _assert_same_decisions(a, b)
    assert {"\ufffd", "T-\ufffd-12"} <= set(b["text"]) | set(b["ticket_id"])
    assert rejects[0] == rejects[1]
    if kind != "parquet":
        assert "contains bytes that are not valid UTF-8" in rejects[1]
