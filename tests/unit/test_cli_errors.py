"""The CLI's error boundary: one plain line, exit 2 for bad input and 1 otherwise, no ticket text."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from serving.tickets import TicketError
from triage.errors import cli_errors

MARKER = "zebrafinchquartz"
runner = CliRunner()


def _app(error: BaseException) -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.command()
    @cli_errors
    def fail(text: str = typer.Option(...)) -> None:
        """A command that fails while holding ticket text in a local variable."""
        ticket = {"text": text}  # noqa: F841 - what a pretty traceback would print
        raise error

    return app


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (ValueError(f"could not convert {MARKER!r} to int64"), 1, "internal error: ValueError in fail"),
        (UnicodeEncodeError("utf-8", f"\ud800 {MARKER}", 0, 1, "surrogates not allowed"), 1, "internal error: UnicodeEncodeError"),
        (KeyError(MARKER), 1, "internal error: KeyError"),
        (FileNotFoundError(2, "No such file or directory", "/data/in.csv"), 2, "No such file or directory: /data/in.csv"),
        (PermissionError(13, "Permission denied", "/data/out.csv"), 2, "Permission denied: /data/out.csv"),
        (OSError(28, "No space left on device", "/data/out.csv"), 1, "No space left on device"),
        (OSError(f"pyarrow says {MARKER}"), 1, "OSError"),
        (TicketError("created_at", "not a valid timestamp"), 2, "invalid input: created_at: not a valid timestamp"),
    ],
)
def test_errors_end_in_one_line_without_the_text(error, code, words):
    result = runner.invoke(_app(error), ["--text", f"{MARKER} my diagnosis"])
    assert result.exit_code == code
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and words in result.stderr
    assert result.stderr.count("\n") == 1
    assert MARKER not in result.stdout + result.stderr


def test_mlflow_errors_are_classified_and_masked():
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

    missing = MlflowException("Registered Model with name=x not found", error_code=RESOURCE_DOES_NOT_EXIST)
    down = MlflowException("API request to http://bob:s3cret@127.0.0.1:1/api failed")
    for error, code in ((missing, 2), (down, 1)):
        result = runner.invoke(_app(error), ["--text", MARKER])
        assert result.exit_code == code
        assert "MLflow error: " in result.stderr and "s3cret" not in result.stderr and MARKER not in result.stderr


def test_verbose_prints_the_call_stack_but_not_the_message(caplog):
    import logging

    with caplog.at_level(logging.INFO):
        result = runner.invoke(_app(ValueError(MARKER)), ["--text", MARKER])
    assert result.exit_code == 1
    assert "  at " in result.stderr and " in fail" in result.stderr and MARKER not in result.stderr


def test_the_triage_app_has_no_pretty_tracebacks_and_every_command_is_guarded():
    from triage.cli import app

    assert app.pretty_exceptions_enable is False and app.pretty_exceptions_show_locals is False
    for command in app.registered_commands:
        assert getattr(command.callback, "__wrapped__", None) is not None, command.name



def _fail_in_a_worker(text: str) -> None:
    raise ValueError(f"cannot read {text}")


def test_an_error_in_a_worker_process_names_the_worker_frame():
    from concurrent.futures import ProcessPoolExecutor

    app = typer.Typer(pretty_exceptions_enable=False)

    @app.command()
    @cli_errors
    def fail(text: str = typer.Option(...)) -> None:
        with ProcessPoolExecutor(1) as pool:
            pool.submit(_fail_in_a_worker, text).result()

    result = runner.invoke(app, ["--text", MARKER])
    assert result.exit_code == 1
    assert "internal error: ValueError in _fail_in_a_worker (test_cli_errors.py:" in result.stderr
    assert MARKER not in result.stderr
