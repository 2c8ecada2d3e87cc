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
    data: Annotated[Path | None, typer.Option(help="Labelled tickets (.csv, .jsonl, .parquet); data/sample/tickets.csv by default.")] = None,
    text_col: Annotated[str | None, typer.Option(help="Column(s) joined into text, comma-separated (e.g. subject,description).")] = None,
    label_col: Annotated[str | None, typer.Option(help="Column holding the label (e.g. 'Ticket Type'); category by default.")] = None,
    label_map: Annotated[Path | None, typer.Option(help="The desk's labels -> our categories: a JSON object or a two-column CSV.")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="FIELD=COLUMN for created_at, intent or family, repeatable (e.g. 'created_at=Created').")] = None,
    feedback: Annotated[bool, typer.Option(help="Train on the stored corrections (--no-feedback: only the test split sees them).")] = True,
    with_sample: Annotated[bool, typer.Option(help="Top up categories under --min-per-category rows from the bundled sample.")] = False,
    min_per_category: Annotated[int, typer.Option(min=1, help="Fewest rows a category may have.")] = 20,
    force: Annotated[bool, typer.Option(help="Make the new version champion even if it scores worse.")] = False,
    results_fp: Annotated[Path | None, typer.Option(help="Write the run summary as JSON here.")] = None,
) -> None:
    """Print the data report, then train, evaluate, track in MLflow, register, and promote past the champion gate."""
    from pipeline.data import DataError
    from pipeline.dataset import DataOptions
    from pipeline.tracking import run_training
    from serving.feedback.store import FeedbackStoreError

    settings = _settings()
    options = DataOptions(
        text_cols=text_col, label_col=label_col, mappings=tuple(map_ or ()), label_map=label_map,
        use_feedback=feedback, with_sample=with_sample, min_per_category=min_per_category,
    )  # fmt: skip
    try:
        summary = run_training(settings, data, force=force, options=options, echo=typer.echo)
    except DataError as error:
        typer.echo(f"data error: {error}", err=True)
        raise typer.Exit(2) from error
    except FeedbackStoreError as error:
        typer.echo(f"corrections: {error} (--no-feedback does not help: the test split reads them too)", err=True)
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


feedback_app = typer.Typer(help="Move agents' corrections in and out of the corrections database as files.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


def _store():
    from serving.feedback.store import FeedbackStoreError, open_store

    settings = _settings()
    try:
        return open_store(settings.database_url, settings.feedback_retention_days)
    except FeedbackStoreError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


@feedback_app.command("export")
def feedback_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Corrections file: .csv, .jsonl or .parquet (written 0600).")],
) -> None:
    """Write every stored correction to a file (TRIAGE_DATABASE_URL)."""
    from serving.feedback.store import FeedbackStoreError
    from serving.feedback.transfer import FeedbackFileError, export_corrections

    store = _store()
    try:
        n = export_corrections(store, output)
    except (FeedbackFileError, FeedbackStoreError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    finally:
        store.close()
    typer.echo(f"wrote {n} correction(s) to {output}")


@feedback_app.command("import")
def feedback_import(
    input: Annotated[Path, typer.Argument(help="Corrections file: .csv, .jsonl or .parquet with ticket_id, text, category[, intent, route, rule_id, agent, created_at].")],
) -> None:
    """Store the corrections of a file; one invalid row stores none, ids already stored are skipped."""
    from serving.feedback.store import FeedbackStoreError
    from serving.feedback.transfer import FeedbackFileError, import_corrections

    store = _store()
    try:
        added, skipped = import_corrections(store, input)
    except (FeedbackFileError, FeedbackStoreError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    finally:
        store.close()
    typer.echo(f"imported {added} correction(s) from {input}" + (f", {skipped} already stored" if skipped else ""))


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
