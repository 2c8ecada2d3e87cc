"""The command line's error boundary: a plain one-line message and an exit code, never a traceback.

Exception messages and tracebacks can hold ticket text (a library quoting the value it choked on)
or credentials (a tracking URI with its password), so no command lets one reach the terminal.

Exit codes: 2 for bad input or usage (an invalid ticket field, a missing or unreadable file, an
unknown model), 1 for everything else (the registry unreachable, a disk error in the middle of a
run, a bug).
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from typer.exceptions import TyperException

USAGE, FAILURE = 2, 1
# OS errors about a path the user named: bad input, not a failure of the run.
_PATH_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)
# MLflow error codes that mean "no such model" or "not a model URI" rather than an outage.
_MLFLOW_USAGE_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND", "BAD_REQUEST"})

# Libraries whose errors mean a store could not be reached (a database, HTTP, cloud storage).
_CLIENT_LIBRARIES = frozenset({"sqlalchemy", "psycopg", "psycopg2", "pymysql", "requests", "urllib3", "botocore", "google", "azure"})

_FRAME_LINE = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\S+)$', re.MULTILINE)

F = TypeVar("F", bound=Callable[..., Any])


def _is_outage(error: BaseException) -> bool:
    """Whether an error means a service (registry, database, object store) could not be reached."""
    mlflow_errors = sys.modules.get("mlflow.exceptions")
    if mlflow_errors is not None and isinstance(error, mlflow_errors.MlflowException):
        return getattr(error, "error_code", None) not in _MLFLOW_USAGE_CODES
    if isinstance(error, OSError):
        return not isinstance(error, _PATH_ERRORS)
    return type(error).__module__.split(".")[0] in _CLIENT_LIBRARIES


def _frames(error: BaseException) -> list[tuple[str, int, str]]:
    """Where an error was raised, outermost first, as (file, line, function): code places, no values.

    An error raised in a worker process arrives with that process's traceback as text (its
    ``__cause__``); only the frame lines are taken from it, innermost last.
    """
    frames = [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(error.__traceback__)]
    remote = getattr(error.__cause__, "tb", None)  # concurrent.futures.process._RemoteTraceback
    if isinstance(remote, str):
        frames += [(file, int(line), name) for file, line, name in _FRAME_LINE.findall(remote)]
    return frames


def describe(error: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an error that reached the command line.

    Args:
        error: the exception.

    Returns:
        (exit code, message). Messages never include an exception's text unless its kind is known
        to carry none: ticket errors name the field, OS errors give their reason and path, MLflow
        and model-loading errors are about the model and have credentials masked.
    """
    from serving.settings import error_summary, redact_credentials
    from serving.tickets import TicketError

    if isinstance(error, TicketError):
        return USAGE, f"invalid input: {error}"
    # Modules imported only when a command needs them: an error from one that is not loaded cannot occur.
    loader = sys.modules.get("serving.model.loader")
    if loader is not None and isinstance(error, loader.ModelLoadError):
        # A model that is not there or not a triage model is bad input; an unreachable store is not.
        return (FAILURE if _is_outage(error.cause) else USAGE), str(error)
    mlflow_errors = sys.modules.get("mlflow.exceptions")
    if mlflow_errors is not None and isinstance(error, mlflow_errors.MlflowException):
        return (FAILURE if _is_outage(error) else USAGE), f"MLflow error: {error_summary(error)}"
    if isinstance(error, OSError):
        reason = error.strerror or type(error).__name__
        where = f": {error.filename}" if error.filename is not None else ""
        return (FAILURE if _is_outage(error) else USAGE), redact_credentials(f"{reason}{where}")
    frames = _frames(error)
    at = f" in {frames[-1][2]} ({Path(frames[-1][0]).name}:{frames[-1][1]})" if frames else ""
    return FAILURE, (
        f"internal error: {type(error).__name__}{at}; details are withheld because they can contain "
        "ticket text (run with --verbose for the call stack)"
    )


def cli_errors(command: F) -> F:
    """Wrap a Typer command so that any exception ends it with a one-line message and an exit code.

    With ``--verbose`` an internal error also prints its call stack: file, line and function of
    each frame, never the exception's message or local variables.

    Args:
        command: the command function.

    Returns:
        The wrapped command, with the same signature (Typer reads it through ``functools.wraps``).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, TyperException):  # Typer's own exits and usage errors
            raise
        except Exception as error:  # noqa: BLE001 - the boundary: every error ends here
            code, message = describe(error)
            typer.echo(f"error: {message}", err=True)
            if code == FAILURE and logging.getLogger().isEnabledFor(logging.INFO):
                for filename, lineno, name in _frames(error):
                    typer.echo(f"  at {filename}:{lineno} in {name}", err=True)
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]
