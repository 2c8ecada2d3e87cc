"""A ``triage score`` run killed half-way and resumed gives the uninterrupted run's file, byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.generate import write_tickets
from serving.batch.runner import work_dir_for
from tests.utils.batch import interrupt_at
from triage.cli import app

pytestmark = pytest.mark.slow


def test_killed_run_resumes_to_the_same_output(trained, tmp_path, monkeypatch):
    from serving.settings import get_settings

    settings, _ = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
    get_settings.cache_clear()
    source = write_tickets(tmp_path / "backlog.csv", 3000, seed=3)
    args = ["score", str(source), "--chunk-size", "60", "--workers", "0"]

    reference = tmp_path / "reference.csv"
    result = CliRunner().invoke(app, [*args, "-o", str(reference)])
    assert result.exit_code == 0, result.output

    output = tmp_path / "scored.csv"
    work = work_dir_for(output.resolve())
    env = {**os.environ, "MLFLOW_TRACKING_URI": settings.tracking_uri}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "triage"), *args, "-o", str(output)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while len(list(work.glob("part-*.parquet"))) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # a real crash: no cleanup runs
    process.wait()
    done = len(list(work.glob("part-*.parquet")))
    assert 3 <= done < 50, "the run must be killed half-way"
    assert not output.exists(), "an interrupted run never leaves a file that looks complete"

    result = CliRunner().invoke(app, [*args, "-o", str(output), "--resume"])
    assert result.exit_code == 0, result.output
    assert f"{done} chunks reused" in result.output
    assert output.read_bytes() == reference.read_bytes()
    assert not work.exists()

    # Interrupted again (in-process this time), then resumed against a changed input: refused.
    from serving.batch.runner import prepare_job

    job = prepare_job(source, output, model_uri=settings.model_uri, chunk_size=60, workers=0)
    interrupt_at(job, settings, 1)
    assert work.exists()
    write_tickets(source, 3000, seed=4)
    result = CliRunner().invoke(app, [*args, "-o", str(output), "--resume"])
    assert result.exit_code == 2
    assert "input file changed" in result.output
    get_settings.cache_clear()
