"""The registered model is self-contained: a fresh virtualenv with only the model's own requirements.txt,
outside the checkout, loads it and gives the decisions this project's own scoring gives, in-process and
on Spark executors."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving.decision import DECISION_COLUMNS
from serving.settings import PROJ_ROOT, get_settings
from serving.tickets import INPUT_FIELDS
from tests.conftest import SAMPLE
from triage.cli import app

pytestmark = pytest.mark.slow

# Every ticket gets an explicit created_at: a missing one defaults to "now", which differs between runs.
CREATED_AT = "2026-03-05T18:00:00+00:00"
N_TICKETS = 400

# Run by the fresh venv's interpreter: load the downloaded model, score the tickets, say where the code came from.
PREDICT = """
import importlib.util, json, sys
import mlflow, pandas as pd
model_dir, tickets, out = sys.argv[1:]
model = mlflow.pyfunc.load_model(model_dir)
model.predict(pd.read_csv(tickets, dtype=str, keep_default_na=False)).to_parquet(out)
import serving
print(json.dumps({"serving": serving.__file__, "checkout": [importlib.util.find_spec(m) is not None for m in ("pipeline", "triage")]}))
"""


def _isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would put the checkout or user packages on sys.path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return {**env, **extra}


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


@pytest.fixture(scope="session")
def champion_artifacts(trained, tmp_path_factory) -> Path:
    """The champion's logged model, downloaded from the registry as any consumer would."""
    import mlflow

    settings, _ = trained
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=settings.model_uri, dst_path=str(tmp_path_factory.mktemp("champion")), tracking_uri=settings.tracking_uri
    )
    return Path(path)


@pytest.fixture(scope="session")
def fresh_python(champion_artifacts, tmp_path_factory) -> Path:
    """A new virtualenv (no system site packages) holding only ``pip install -r requirements.txt`` of the model."""
    root = tmp_path_factory.mktemp("fresh-venv")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], root, _isolated_env(), 300)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    python = venv / "bin" / "python"
    requirements = champion_artifacts / "requirements.txt"
    _run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], root, _isolated_env(), 1800)
    return python


@pytest.fixture
def tickets(tmp_path) -> Path:
    """Sample tickets with the contract's input columns only, each with a created_at."""
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).head(N_TICKETS)[list(INPUT_FIELDS)]
    frame["created_at"] = frame["created_at"].replace("", CREATED_AT)
    frame.loc[[3, 7], "text"] = ["Le portail affiche \ufffd\ufffd au lieu de mon nom", "I can\u2019t log in \ufffd since Monday"]
    frame.loc[[5, 9], "created_at"] = CREATED_AT
    path = tmp_path / "tickets.csv"
    frame.to_csv(path, index=False)
    return path


def _score_locally(settings, tickets: Path, output: Path, monkeypatch, *options: str) -> pd.DataFrame:
    """``triage score`` (the local engine) on ``tickets``."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["score", str(tickets), "-o", str(output), "--workers", "0", *options])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return pd.read_parquet(output)


def _assert_same_decisions(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    assert len(expected) == len(actual) == N_TICKETS
    for column in DECISION_COLUMNS:
        pd.testing.assert_series_equal(
            expected[column].reset_index(drop=True), actual[column].reset_index(drop=True), check_dtype=False, check_exact=True
        )


def test_a_fresh_venv_loads_the_model_and_decides_as_triage_score(trained, champion_artifacts, fresh_python, tickets, tmp_path, monkeypatch):
    settings, _ = trained
    local = _score_locally(settings, tickets, tmp_path / "local.parquet", monkeypatch)

    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "fresh.parquet"
    result = _run([str(fresh_python), "-c", PREDICT, str(champion_artifacts), str(tickets), str(out)], empty, _isolated_env(), 900)
    where = json.loads(result.stdout.strip().splitlines()[-1])
    # The model's own copy of the code ran, and nothing of the checkout was importable.
    assert Path(where["serving"]).is_relative_to(champion_artifacts / "code"), where
    assert where["checkout"] == [False, False]

    fresh = pd.read_parquet(out)
    assert fresh["error"].isna().all()
    _assert_same_decisions(local, fresh)


@pytest.mark.spark
@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed")
@pytest.mark.skipif(shutil.which("java") is None, reason="Java is not installed")
def test_spark_executors_in_a_fresh_venv_decide_as_the_local_engine(trained, fresh_python, tickets, tmp_path, monkeypatch):
    settings, _ = trained
    # Subject and body columns (--text-col), so the executors also run the join of several text columns.
    frame = pd.read_csv(tickets, dtype=str, keep_default_na=False)
    parts = frame.pop("text").str.partition(",")
    frame.insert(1, "subject", parts[0])
    frame.insert(2, "body", parts[2])
    source = tmp_path / "subject_body.csv"
    frame.to_csv(source, index=False)
    local = _score_locally(settings, source, tmp_path / "local.parquet", monkeypatch, "--text-col", "subject,body")

    empty = tmp_path / "empty"
    empty.mkdir()
    check = "import importlib.util as u; print([u.find_spec(m) is not None for m in ('serving', 'pipeline', 'triage')])"
    assert _run([str(fresh_python), "-c", check], empty, _isolated_env(), 120).stdout.strip() == "[False, False, False]"
    # The driver is this project, in a new process so that Spark starts with the fresh venv as its
    # workers' Python; they get no PYTHONPATH: the model's code can only come from the model.
    driver = f"import sys; sys.path.insert(0, {str(PROJ_ROOT)!r}); from triage.cli import app; app(prog_name='triage')"
    env = _isolated_env(PYSPARK_PYTHON=str(fresh_python), MLFLOW_TRACKING_URI=settings.tracking_uri)
    output = tmp_path / "spark.parquet"
    command = [sys.executable, "-c", driver, "score", str(source), "-o", str(output), "--text-col", "subject,body"]
    _run([*command, "--engine", "spark", "--spark-master", "local[2]"], empty, env, 1200)

    spark = pd.read_parquet(output)
    _assert_same_decisions(local, spark)
    assert spark[["subject", "body"]].equals(local[["subject", "body"]])
    assert (tmp_path / "spark.rejects.jsonl").read_text() == (tmp_path / "local.rejects.jsonl").read_text() == ""
