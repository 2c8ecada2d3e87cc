"""Every way `triage route` and `triage score` can fail: one plain line, the right exit code, no ticket text.

The ticket text carries a marker word; it must appear in none of stdout, stderr and the files the
command wrote. Exit codes: 2 for bad input or usage, 1 for the rest (an unreachable registry, a
run that lost a row).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.utils.batch import interrupt_at
from tests.utils.server import free_port
from triage.cli import app

pytestmark = pytest.mark.slow

MARKER = "zebrafinchquartz"
SECRET = "s3cretpassw0rd"
runner = CliRunner()


@pytest.fixture
def store(trained, monkeypatch):
    """Point the CLI at a tracking store: the trained one by default, another when called with a URI."""
    from serving.settings import get_settings

    def use(uri: str | None = None) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri or trained[0].tracking_uri)
        get_settings.cache_clear()

    use()
    yield use
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> str:
    """A tracking store with no model at all (its tables are created once, by the first user)."""
    return f"sqlite:///{tmp_path_factory.mktemp('empty') / 'mlflow.db'}"


@pytest.fixture
def unreachable(monkeypatch) -> str:
    """A tracking server URI with a password in it, on a port nobody listens on (no retries)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    return f"http://triage:{SECRET}@127.0.0.1:{free_port()}"


def write_inputs(folder: Path) -> dict[str, Path]:
    """A CSV and a JSON Lines file whose every ticket holds the marker, two of them bad rows."""
    rows = [
        {"ticket_id": "T1", "text": f"{MARKER} I cannot log in to the portal"},
        {"ticket_id": "T2", "text": f"{MARKER} my bill is wrong", "created_at": f"{MARKER} yesterday"},
        {"ticket_id": "T3", "text": f"{MARKER} please move my session", "timezone": "Mars/Base"},
        {"ticket_id": "T4", "text": f"{MARKER} how do I change my email"},
    ]
    csv_path, jsonl_path = folder / "in.csv", folder / "in.jsonl"
    header = ["ticket_id", "text", "created_at", "timezone"]
    lines = [",".join(header)] + [",".join(row.get(name, "") for name in header) for row in rows]
    csv_path.write_text("\n".join(lines) + "\n")
    jsonl_path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return {"csv": csv_path, "jsonl": jsonl_path}


def assert_no_trace(result_out: str, result_err: str, folder: Path, inputs: set[Path]) -> None:
    """The marker (and the password) is in no output and in no file written under ``folder``."""
    for text in (result_out, result_err):
        assert MARKER not in text and SECRET not in text
        assert "Traceback" not in text
    for path in folder.rglob("*"):
        if path.is_file() and path not in inputs and path.suffix != ".db":
            content = path.read_bytes()
            assert MARKER.encode() not in content and SECRET.encode() not in content, path


def message(stderr: str) -> str:
    """The command's one line of error, once MLflow's own log lines and progress bars are set aside."""
    mlflow_noise = re.compile(r"^(\d{4}/\d\d/\d\d [\d:]+ (INFO|WARNING) mlflow|Downloading artifacts: )")
    lines = [line for line in stderr.strip().splitlines() if not mlflow_noise.match(line)]
    assert len(lines) == 1, stderr
    return lines[0]


def invoke(args: list[str]):
    result = runner.invoke(app, args)
    assert isinstance(result.exception, SystemExit), f"unhandled {type(result.exception).__name__}"
    return result


# ---------------------------------------------------------------- triage score


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("no champion", 2, "--model: cannot load models:/ticket-triage@champion: "),
        ("model path missing", 2, "--model: cannot load "),
        ("model folder is not a model", 2, "--model: cannot load "),
        ("model name unknown", 2, "not found"),
        ("registry unreachable", 1, "--model: cannot load "),
        ("output folder unwritable", 2, "is not writable"),
        ("output is a folder", 2, "is a folder"),
        ("rejects folder unwritable", 2, "is not writable"),
        ("input missing", 2, "is not a file"),
    ],
)
def test_score_failures(store, empty_store, unreachable, tmp_path, kind, case, code, words):
    inputs = write_inputs(tmp_path)
    source, output = inputs[kind], tmp_path / "out" / f"scored.{kind}"
    output.parent.mkdir()
    extra: list[str] = []
    if case == "no champion":
        store(empty_store)
    elif case == "model path missing":
        extra = ["--model", str(tmp_path / "no-such-model")]
    elif case == "model folder is not a model":
        extra = ["--model", str(tmp_path / "out")]
    elif case == "model name unknown":
        extra = ["--model", "models:/no-such-model@champion"]
    elif case == "registry unreachable":
        store(unreachable)
    elif case == "output folder unwritable":
        output = Path("/proc/self") / output.name  # not writable even by root
    elif case == "output is a folder":
        output.mkdir()
    elif case == "rejects folder unwritable":
        extra = ["--rejects", "/proc/self/rejects.jsonl"]
    elif case == "input missing":
        source = tmp_path / f"missing.{kind}"
    result = invoke(["score", str(source), "-o", str(output), "--workers", "0", *extra])
    assert result.exit_code == code, result.output
    assert words in message(result.stderr)
    assert not (output.is_file() or (tmp_path / "out" / f"scored.rejects.jsonl").exists())
    assert_no_trace(result.stdout, result.stderr, tmp_path, set(inputs.values()))


def test_a_run_that_loses_a_row_fails_loudly_even_under_python_o(store, trained, tmp_path):
    """The conservation law is a real check: a tampered work folder makes ``--resume`` exit 1, under -O too."""
    from serving.batch.runner import prepare_job, work_dir_for

    settings, _ = trained
    source = write_inputs(tmp_path)["csv"]
    output = tmp_path / "scored.csv"

    interrupt_at(prepare_job(source, output, model_uri=settings.model_uri, chunk_size=2, workers=0), settings, 0)
    work = work_dir_for(output.resolve())
    rejects_part = work / "rejects-000000.jsonl"
    assert rejects_part.read_text().count("\n") == 1  # row 2 (created_at) was rejected
    rejects_part.write_text("")  # its line is lost, as on a failing disk

    env = {**os.environ, "MLFLOW_TRACKING_URI": settings.tracking_uri, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-O", "-c", "from triage.cli import app; app()", "score", str(source), "-o", str(output),
         "--chunk-size", "2", "--workers", "0", "--resume"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "batch run lost rows: rows in 4 != scored 2 + rejected 1" in message(result.stderr)
    assert not output.exists() and not work.exists()
    assert_no_trace(result.stdout, result.stderr, tmp_path, {source, tmp_path / "in.jsonl"})


# ---------------------------------------------------------------- triage route


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("no champion", 2, "error: cannot load model models:/ticket-triage@champion: "),
        ("model path missing", 2, "error: cannot load model "),
        ("model name unknown", 2, "not found"),
        ("registry unreachable", 1, "error: cannot load model "),
        ("bad field", 2, "invalid input: created_at: "),
        ("bad category", 2, "invalid input: category: "),
    ],
)
def test_route_failures(store, empty_store, unreachable, tmp_path, case, code, words):
    args = ["route", "--text", f"{MARKER} I need my sertraline refill"]
    if case == "no champion":
        store(empty_store)
    elif case == "model path missing":
        args += ["--model", str(tmp_path / "no-such-model")]
    elif case == "model name unknown":
        args += ["--model", "models:/no-such-model/3"]
    elif case == "registry unreachable":
        store(unreachable)
    elif case == "bad field":
        args += ["--created-at", f"{MARKER} last tuesday"]
    elif case == "bad category":
        args += ["--category", MARKER]
    result = invoke(args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert words in message(result.stderr)
    assert_no_trace(result.stdout, result.stderr, tmp_path, set())


def test_a_real_terminal_sees_one_line_and_no_traceback(tmp_path):
    """The same through a real process: no Rich traceback, no local variables."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}", "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", "from triage.cli import app; app()", "route", "--text", f"{MARKER} my diagnosis",
         "--model", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert message(result.stderr).startswith("error: cannot load model ")
    assert_no_trace(result.stdout, result.stderr, tmp_path, set())
