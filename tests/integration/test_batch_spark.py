"""The Spark engine (the registered pyfunc as spark_udf) decides exactly like the local engine."""

from __future__ import annotations

import importlib.util
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


def test_spark_and_local_engines_agree(trained, tmp_path, monkeypatch):
    from serving.settings import get_settings

    settings, _ = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
    get_settings.cache_clear()
    source = write_tickets(tmp_path / "tickets.csv", 300, seed=11)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame.loc[[4, 90], "text"] = ""  # two rejects, to check both engines drop the same rows
    frame.loc[[10, 20, 30], "created_at"] = ""  # scored against the run's start time
    frame.to_csv(source, index=False)

    runner = CliRunner()
    local = runner.invoke(app, ["score", str(source), "-o", str(tmp_path / "local.parquet"), "--workers", "0"])
    assert local.exit_code == 0, local.output
    spark = runner.invoke(
        app, ["score", str(source), "-o", str(tmp_path / "spark.parquet"), "--engine", "spark", "--spark-master", "local[2]"]
    )
    assert spark.exit_code == 0, spark.output

    a = pd.read_parquet(tmp_path / "local.parquet")
    b = pd.read_parquet(tmp_path / "spark.parquet")
    assert len(a) == len(b) == 298
    for column in ("ticket_id", "category", "route", "rule_id", "needs_review", "safety_flag"):
        assert a[column].tolist() == b[column].tolist(), column
    pd.testing.assert_series_equal(a["confidence"], b["confidence"], check_exact=False, rtol=1e-9)
    assert a["text"].tolist() == b["text"].tolist()
    rejects = [(tmp_path / f"{name}.rejects.jsonl").read_text() for name in ("local", "spark")]
    assert rejects[0] == rejects[1]
    get_settings.cache_clear()
