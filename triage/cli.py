"""The ``triage`` command line: one Typer app; heavy imports wait until a command runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from triage.errors import cli_errors
from triage.route import route_command  # light: the routing engine, no MLflow

# No pretty tracebacks: they print local variables (ticket text) and exception messages. Every
# command is wrapped in ``cli_errors`` instead: a one-line message, exit 2 for bad input, 1 otherwise.
app = typer.Typer(
    help="Route teletherapy help-desk tickets to the provider or the Support Team.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)


def _settings():
    from pydantic import ValidationError

    from serving.settings import get_settings

    try:
        return get_settings()
    except ValidationError as error:
        # Field names and problems only: pydantic's text repeats the value, which may be a secret.
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors())
        typer.echo(f"configuration error: {problems}", err=True)
        raise typer.Exit(2) from None


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False) -> None:
    """Train, evaluate, score and serve the ticket-triage model."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@app.command()
@cli_errors
def generate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file: .csv, .jsonl or .parquet.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of tickets.")] = 6000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same tickets.")] = 0,
) -> None:
    """Generate realistic labelled tickets from the phrasebank."""
    from pipeline.generate import write_tickets

    try:
        write_tickets(output, n, seed)
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    typer.echo(f"wrote {n} tickets to {output}")


@app.command()
@cli_errors
def train(
    data: Annotated[Path | None, typer.Option(help="Labelled tickets; data/sample/tickets.csv by default.")] = None,
    force: Annotated[bool, typer.Option(help="Make the new version champion even if it scores worse.")] = False,
    results_fp: Annotated[Path | None, typer.Option(help="Write the run summary as JSON here.")] = None,
) -> None:
    """Train, evaluate, track in MLflow, register, and promote past the champion gate."""
    from pipeline.data import DataError
    from pipeline.tracking import run_training

    settings = _settings()
    try:
        summary = run_training(settings, data, force=force)
    except DataError as error:
        typer.echo(f"data error: {error}", err=True)
        raise typer.Exit(2) from error
    gate = summary["gate"]
    line = f"run {summary['run_id']}  version {summary['version']}  holdout macro-F1 {summary['holdout']['macro_f1']:.3f}  ECE {summary['holdout']['ece']:.3f}"
    if "external" in summary:
        line += f"  external macro-F1 {summary['external']['macro_f1']:.3f}"
    typer.echo(line)
    status = "now @" + settings.model_alias if gate["promoted"] else "not promoted"
    typer.echo(f"{settings.model_name} v{summary['version']}: {status} ({gate['reason']})")
    if results_fp:
        results_fp.write_text(json.dumps(summary, indent=2, default=str))


@app.command()
@cli_errors
def evaluate(
    data: Annotated[Path | None, typer.Argument(help="Labelled tickets (text, category[, expected_route]).")] = None,
    model: Annotated[str | None, typer.Option(help="Model URI or folder; the champion by default.")] = None,
    results_fp: Annotated[Path | None, typer.Option(help="Write the figures as JSON here.")] = None,
) -> None:
    """Print per-category precision, recall, F1, macro-F1, accuracy, confusion matrix and ECE."""
    from pipeline.data import DataError
    from pipeline.evaluation.metrics import evaluate_file

    settings = _settings()
    try:
        report, text = evaluate_file(data or settings.data_path, model, settings)
    except DataError as error:
        typer.echo(f"data error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(text)
    if results_fp:
        results_fp.write_text(json.dumps(report, indent=2))


@app.command()
@cli_errors
def promote(
    version: Annotated[str, typer.Argument(help="Registered version to make champion.")],
) -> None:
    """Point the champion alias at a registered version."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipeline.register import promote as promote_version

    settings = _settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    try:
        promote_version(settings.model_name, version, settings.model_alias)
    except MlflowException as error:
        typer.echo(f"version {version} of {settings.model_name} not found: {error.message}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"{settings.model_name} v{version} is now @{settings.model_alias}")


@app.command()
@cli_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address; loopback only unless TRIAGE_API_KEYS is set. Default TRIAGE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="TCP port. Default TRIAGE_PORT (8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, each with its own copy of the model.")] = 1,
    model: Annotated[str | None, typer.Option(help="Model URI or folder to serve; the champion alias by default.")] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level (debug, info, warning). Default TRIAGE_LOG_LEVEL.")] = None,
) -> None:
    """Serve the scoring API (FastAPI under uvicorn), hot-reloading the champion when its alias moves."""
    from serving.api.server import UnsafeBindError, run

    settings = _settings()
    try:
        run(
            settings,
            host=host or settings.host,
            port=settings.port if port is None else port,
            workers=workers,
            model_uri=model,
            log_level=log_level,
        )
    except UnsafeBindError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


@app.command()
@cli_errors
def score(
    input: Annotated[Path, typer.Argument(help="Tickets to score: .csv, .jsonl or .parquet.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Scored file: .csv, .jsonl or .parquet.")],
    model: Annotated[str | None, typer.Option(help="Model URI or folder; the champion by default.")] = None,
    engine: Annotated[str, typer.Option(help="local (process pool) or spark.")] = "local",
    rejects: Annotated[Path | None, typer.Option(help="Rejected rows (JSON Lines); <output stem>.rejects.jsonl by default.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run without rescoring finished chunks.")] = False,
    text_col: Annotated[str | None, typer.Option(help="Column(s) joined into text, comma-separated (e.g. Subject,Description).")] = None,
    id_col: Annotated[str | None, typer.Option(help="Column holding the ticket id (e.g. Id).")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="FIELD=COLUMN for another contract field, repeatable (e.g. 'created_at=Created at').")] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Rows per chunk: the unit of streaming and of --resume.")] = 20_000,
    workers: Annotated[int | None, typer.Option(min=0, help="Scoring processes (local engine); the CPU count by default, 0 = in-process.")] = None,
    spark_master: Annotated[str | None, typer.Option(help="Spark master URL; SPARK_MASTER or local[*] by default.")] = None,
) -> None:
    """Score a file of tickets in chunks; bad rows go to the rejects file, never stop the run."""
    from serving.batch.runner import BatchError, BatchFileError, ConservationError, prepare_job

    settings = _settings()
    if engine not in ("local", "spark"):
        typer.echo(f"--engine: expected local or spark, got {engine!r}", err=True)
        raise typer.Exit(2)
    try:
        job = prepare_job(
            input, output, model_uri=model or settings.model_uri, rejects=rejects, text_cols=text_col,
            id_col=id_col, mappings=map_ or [], chunk_size=chunk_size, workers=workers, resume=resume,
        )  # fmt: skip
        if engine == "spark":
            from serving.batch.spark import run_spark

            stats = run_spark(job, settings, master=spark_master)
        else:
            from serving.batch.runner import run_job

            stats = run_job(job, settings)
    except (BatchError, BatchFileError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    except ConservationError as error:  # its message holds counts only
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{stats.line()} -> {job.output} (rejects: {job.rejects})", err=True)


app.command("route")(cli_errors(route_command))
