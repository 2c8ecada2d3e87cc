"""Batch scoring of ticket backlogs: stream a file in chunks, score each with ``score_batch``, write atomically.

The work happens in a folder beside the output (``.<output name>.triage-work``): each scored chunk
is written there as a Parquet part plus a JSON Lines rejects part, and a manifest records what the
run is (input fingerprint, chunk size, model version, the run's "now"). Only when every chunk is
done are the parts concatenated into the output and the rejects file, each through a temporary
file and a rename; the work folder is then removed. An interrupted run leaves the folder behind,
and ``--resume`` scores only the chunks that have no part yet.

Scoring uses a process pool, started before the model is fetched (each worker loads the model
from a local copy with its first chunk), fed by the reader in the main process, with a bounded
number of chunks in flight so memory stays flat.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from serving.batch.io import (
    BatchFileError,
    Chunk,
    assemble,
    count_rows,
    file_format,
    file_sha256,
    read_chunks,
    read_columns,
    write_part,
    write_text_atomic,
)
from serving.decision import DECISION_COLUMNS, DECISION_TYPES
from serving.tickets import INPUT_FIELDS

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
DEFAULT_CHUNK_SIZE = 20_000
# Arrow types of the decision columns: fixed, so every part and every output has the same tail.
_ARROW_TYPES = {"string": pa.string(), "double": pa.float64(), "boolean": pa.bool_()}
DECISION_SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in DECISION_TYPES.items()])
# Input columns whose name is a decision column are kept under this prefix (e.g. a labelled file's
# ``category`` becomes ``input_category``), so the output never has two columns of one name.
CLASH_PREFIX = "input_"


def output_name(column: str) -> str:
    """The output name of an input column: a decision column's name gets ``CLASH_PREFIX``.

    So does a name that already has it (``input_category`` becomes ``input_input_category``), which
    keeps the renaming one-to-one, whatever other columns a chunk has: re-scoring a scored file works.

    Args:
        column: the input column's name.

    Returns:
        The name in the output.
    """
    base = column
    while base.startswith(CLASH_PREFIX):
        base = base[len(CLASH_PREFIX) :]
    return CLASH_PREFIX + column if base in DECISION_COLUMNS else column


class BatchError(Exception):
    """A problem with the whole run (bad options, resume mismatch); reported before any scoring."""


class ConservationError(RuntimeError):
    """Rows in != rows scored + rows rejected: a row was lost, so the run writes no output."""


def check_conservation(stats: RunStats) -> None:
    """Enforce the contract's conservation law (section 5) whatever Python's ``-O`` flag says.

    Args:
        stats: the run's counts, taken from what was written.

    Raises:
        ConservationError: when a row is unaccounted for.
    """
    if stats.rows_in != stats.scored + stats.rejected:
        raise ConservationError(
            f"batch run lost rows: rows in {stats.rows_in} != scored {stats.scored} + rejected {stats.rejected}; "
            "no output was written. This is a bug in triage: please report it."
        )


@dataclass(frozen=True)
class ColumnMap:
    """Which input columns feed the contract's fields.

    Attributes:
        text: columns joined (blank-line separated, blanks skipped) into ``text``.
        fields: contract field -> input column, for the other fields (``ticket_id``, ``created_at``...).
    """

    text: tuple[str, ...] = ("text",)
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, columns: list[str], text_cols: str | None, id_col: str | None, mappings: Iterable[str], known: tuple[str, ...] = INPUT_FIELDS
    ) -> "ColumnMap":
        """Resolve the CLI's mapping options against the input's columns.

        Args:
            columns: the input's column names.
            text_cols: "a,b" to join columns into ``text``; ``text`` when None.
            id_col: the column holding the caller's ticket id; ``ticket_id`` when present.
            mappings: "field=column" pairs for the other contract fields.
            known: the fields that may be mapped (training adds ``category``, ``intent``, ``family``).

        Returns:
            The mapping.

        Raises:
            BatchError: for an unknown field or a column the input lacks.
        """
        fields = {name: name for name in known if name != "text" and name in columns}
        for item in mappings:
            name, sep, column = item.partition("=")
            name, column = name.strip(), column.strip()
            if not sep or name not in known or name == "text":
                raise BatchError(f"--map {item!r}: expected FIELD=COLUMN with FIELD one of {', '.join(f for f in known if f != 'text')}")
            fields[name] = column
        if id_col:
            fields["ticket_id"] = id_col.strip()
        text = tuple(c.strip() for c in text_cols.split(",") if c.strip()) if text_cols else ("text",)
        missing = [c for c in (*text, *fields.values()) if c not in columns]
        if missing:
            hint = " (use --text-col to name the text columns)" if "text" in missing and not text_cols else ""
            raise BatchError(f"input: no column {', '.join(map(repr, missing))}{hint}")
        return cls(text=text, fields=fields)


@dataclass
class RunStats:
    """What a run did; ``rows_in == scored + rejected`` always."""

    rows_in: int = 0
    scored: int = 0
    rejected: int = 0
    skipped_chunks: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        resumed = f", {self.skipped_chunks} chunks reused" if self.skipped_chunks else ""
        return f"rows in {self.rows_in}, scored {self.scored}, rejected {self.rejected}, {self.seconds:.1f} s{resumed}"


# ---------------------------------------------------------------- chunk scoring (runs in the workers)

_WORKER: dict[str, Any] = {}


def _init_worker(settings_env: dict[str, str]) -> None:
    """Worker start-up: import what scoring needs while the main process fetches the model."""
    os.environ.update(settings_env)
    import serving.scoring  # noqa: F401 - pandas, scikit-learn and the routing rules
    from serving.model.classifier import _import_skops

    _import_skops()


def _classifier(model_path: str, key: str) -> Any:
    """The model at ``model_path``, loaded once per process (and per model version, in-process)."""
    if _WORKER.get("key") != key:
        from serving.model.loader import load_model
        from serving.settings import Settings

        _WORKER["classifier"] = load_model(model_path, Settings())
        _WORKER["key"] = key
    return _WORKER["classifier"]


def join_text(values: Iterable[Any]) -> str | None:
    """Join several text columns of one row (e.g. subject and body) the way every engine does.

    Args:
        values: the row's values of the ``--text-col`` columns, in order.

    Returns:
        The non-blank values, trimmed, separated by a blank line; None when all are blank.
    """
    pieces = [v.strip() if isinstance(v, str) else str(v) for v in values if v is not None and not (isinstance(v, str) and not v.strip())]
    return "\n\n".join(pieces) if pieces else None


def _text_values(chunk: Chunk, columns: tuple[str, ...]) -> list[Any]:
    if len(columns) == 1:
        return chunk.column_values(columns[0])
    return [join_text(values) for values in zip(*(chunk.column_values(c) for c in columns))]


def contract_rows(chunk: Chunk, columns: ColumnMap) -> dict[str, list[Any]]:
    """The contract's input fields of a chunk, one list per field; ids default to the row number.

    Values are handed on as read (JSON Lines: with their JSON types), so ``parse_ticket`` judges a
    batch row exactly as it judges an API request.

    Args:
        chunk: the rows as read.
        columns: where each field comes from.

    Returns:
        Field name -> values, in row order (unreadable rows are blank).
    """
    from serving.tickets import is_absent

    n = chunk.num_rows
    present = set(chunk.table.column_names)
    for i in chunk.checked_first:  # validated like any row, so their keys count even if no good row has them
        present.update(chunk.records[i])
    # A JSON Lines chunk may lack a key that other rows have: its values are then simply absent.
    text_columns = tuple(c for c in columns.text if c in present)
    values: dict[str, list[Any]] = {"text": _text_values(chunk, text_columns) if n and text_columns else [None] * n}
    for name in INPUT_FIELDS:
        column = columns.fields.get(name, name)
        if name != "text" and column in present:
            values[name] = chunk.column_values(column)
    # The contract: in batch, a row without an id is known by its row number.
    ids = values.get("ticket_id", [None] * n)
    values["ticket_id"] = [str(chunk.first_row + i) if is_absent(v) else v for i, v in enumerate(ids)]
    return values


def _reject_id(chunk: Chunk, values: dict[str, list[Any]], columns: ColumnMap, i: int) -> str | None:
    """The ticket id written for rejected row ``i``: only an id that cannot be ticket text.

    Args:
        chunk: the rows as read.
        values: ``contract_rows`` of the chunk.
        columns: the field mapping.
        i: the row's offset in the chunk.

    Returns:
        The id (``serving.tickets.echo_id``), the row number when the row has no id, or None when
        the row's fields cannot be told apart (wrong field count, not a JSON object) or the id is
        not a plain string or number.
    """
    from serving.tickets import echo_id, is_absent

    if i not in chunk.bad:
        return echo_id(values["ticket_id"][i])
    recovered = chunk.bad_values.get(i)
    if recovered is None:
        return None
    value = recovered.get(columns.fields.get("ticket_id", "ticket_id"))
    return str(chunk.first_row + i) if value is None or is_absent(value) else echo_id(value)


def score_chunk(
    classifier: Any, chunk: Chunk, columns: ColumnMap, now: datetime
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Score one chunk through ``score_batch``.

    Args:
        classifier: the loaded model.
        chunk: the rows as read.
        columns: the field mapping.
        now: the run's start, the ``created_at`` of rows without one.

    Returns:
        The output rows (pass-through columns, then the decision columns) and the rejects
        (``row``, ``ticket_id``, ``field``, ``reason``) in row order.
    """
    from serving.scoring import score_batch
    from serving.tickets import TicketError, parse_ticket

    values = contract_rows(chunk, columns)
    n = chunk.num_rows
    fields = [name for name in INPUT_FIELDS if name in values]
    rows = [dict(zip(fields, row)) for row in zip(*(values[name] for name in fields))]
    readable = [i for i in range(n) if i not in chunk.bad]
    results = score_batch(classifier, [rows[i] for i in readable] if chunk.bad else rows, now=now)

    rejects: dict[int, dict[str, Any]] = {}
    for i, (name, problem) in chunk.bad.items():
        if i in chunk.checked_first:
            try:
                parse_ticket(rows[i], now=now)
            except TicketError as error:  # the API's verdict on the same values
                name, problem = error.field, error.problem
        rejects[i] = {"field": name, "reason": f"{name}: {problem}"}
    decisions = []
    for i, result in zip(readable, results):
        if isinstance(result, TicketError):
            rejects[i] = {"field": result.field, "reason": str(result)}
        else:
            decisions.append(result.to_row())
    reject_rows = [
        {"row": chunk.first_row + i, "ticket_id": _reject_id(chunk, values, columns, i), **rejects[i]} for i in sorted(rejects)
    ]

    kept_rows = [i for i in range(n) if i not in rejects]
    passed = chunk.table.take(pa.array(kept_rows, pa.int64())) if len(kept_rows) < n else chunk.table
    passed = passed.rename_columns([output_name(c) for c in passed.column_names])
    out = passed
    for f in DECISION_SCHEMA:
        out = out.append_column(f, pa.array([d[f.name] for d in decisions], f.type))
    return out, reject_rows


def _score_and_store(
    chunk: Chunk, columns: ColumnMap, now: datetime, work: str, model: tuple[str, str]
) -> tuple[int, int, int]:
    """Worker task: score a chunk and write its parts; returns (index, rows scored, rows rejected).

    ``model`` is (local path, cache key): the first chunk a process scores loads the model.
    """
    out, rejects = score_chunk(_classifier(*model), chunk, columns, now)
    folder = Path(work)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects)
    rejects_path = folder / f"rejects-{chunk.index:06d}.jsonl"
    tmp = rejects_path.with_name(rejects_path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, rejects_path)
    write_part(out, folder / f"part-{chunk.index:06d}.parquet")  # last: the part marks the chunk done
    return chunk.index, out.num_rows, len(rejects)


# ---------------------------------------------------------------- the run


def work_dir_for(output: Path) -> Path:
    """The resume folder of an output file."""
    return output.parent / f".{output.name}.triage-work"


def default_rejects_path(output: Path) -> Path:
    """``<output stem>.rejects.jsonl`` beside the output."""
    return output.with_name(f"{output.stem}.rejects.jsonl")


def _check_writable(folder: Path, role: str) -> None:
    if not folder.is_dir():
        raise BatchFileError(f"{role}: folder {folder} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".triage-probe-"):
            pass
    except OSError:
        raise BatchFileError(f"{role}: folder {folder} is not writable") from None


def _load_manifest(work: Path) -> dict[str, Any] | None:
    try:
        return json.loads((work / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _compare_manifest(old: dict[str, Any], new: dict[str, Any]) -> None:
    checks = {
        "input": "the input file changed (size or content)",
        "chunk_size": "the chunk size differs",
        "model_version": "the model version differs",
        "columns": "the column mapping differs",
        "output_format": "the output format differs",
        "manifest_version": "the work folder was written by another version of triage",
    }
    for key, problem in checks.items():
        a, b = old.get(key), new.get(key)
        if key == "input":
            a = a and {k: a.get(k) for k in ("size", "sha256")}
            b = {k: b.get(k) for k in ("size", "sha256")}
        if a != b:
            raise BatchError(f"--resume: refusing to resume, {problem}; run again without --resume to start over")


@dataclass
class BatchJob:
    """Everything a run needs, checked up front.

    Attributes:
        input: the file to score.
        output: the scored file.
        rejects: the rejects file.
        model_uri: registry URI or local folder of the model.
        chunk_size: rows per chunk (also the resume granularity).
        workers: scoring processes; 0 scores in this process.
        resume: continue a run interrupted earlier.
        columns: the field mapping.
    """

    input: Path
    output: Path
    rejects: Path
    model_uri: str
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = 2
    resume: bool = False
    columns: ColumnMap = field(default_factory=ColumnMap)
    in_format: str = "csv"
    out_format: str = "csv"


def prepare_job(
    input: Path,
    output: Path,
    *,
    model_uri: str,
    rejects: Path | None = None,
    text_cols: str | None = None,
    id_col: str | None = None,
    mappings: Iterable[str] = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = None,
    resume: bool = False,
) -> BatchJob:
    """Check the whole-file preconditions before any work starts.

    Args:
        input: the file to score (.csv, .jsonl or .parquet).
        output: the scored file (.csv, .jsonl or .parquet).
        model_uri: registry URI or local folder.
        rejects: the rejects file; ``<output stem>.rejects.jsonl`` when None.
        text_cols: "a,b" to join columns into ``text``.
        id_col: the caller's id column.
        mappings: "field=column" pairs.
        chunk_size: rows per chunk.
        workers: scoring processes; the number of CPUs (at most 2 per core) when None.
        resume: continue an interrupted run.

    Returns:
        The job.

    Raises:
        BatchFileError: unreadable input, unknown extension, missing column, output not writable.
        BatchError: bad options.
    """
    input, output = Path(input).resolve(), Path(output).resolve()
    in_format = file_format(input, "input")
    out_format = file_format(output, "output")
    if not input.is_file():
        raise BatchFileError(f"input: {input} is not a file")
    if not os.access(input, os.R_OK):
        raise BatchFileError(f"input: {input} is not readable")
    if input == output:
        raise BatchError("output: must differ from the input")
    if chunk_size < 1:
        raise BatchError("--chunk-size must be at least 1")
    rejects = Path(rejects).resolve() if rejects else default_rejects_path(output)
    if rejects in (input, output):
        raise BatchError("--rejects: must differ from the input and the output")
    columns = ColumnMap.build(read_columns(input, in_format), text_cols, id_col, mappings)
    for path, role in ((output, "output"), (rejects, "--rejects")):
        if path.is_dir():
            raise BatchFileError(f"{role}: {path} is a folder; give a file name")
    _check_writable(output.parent, "output")
    _check_writable(rejects.parent, "--rejects")
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, 8))
    return BatchJob(input, output, rejects, model_uri, chunk_size, workers, resume, columns, in_format, out_format)


def local_model_copy(model_uri: str, settings: Any, into: Path) -> tuple[str, str]:
    """Fetch the model once (to fail fast on a bad ``--model``) and give the workers a local path.

    The classifier itself is loaded only in the workers: loading costs seconds, and the version
    is written in the model's metadata.

    Args:
        model_uri: registry URI, a logged model folder (``MLmodel``) or a classifier folder.
        settings: the tracking store.
        into: folder to download a registry model into.

    Returns:
        (local path the workers load, model version).

    Raises:
        ModelLoadError: when the model cannot be fetched or is not a triage model (credentials
            masked in the message).
    """
    import yaml

    from serving.model.classifier import META_FILE

    try:
        path = Path(model_uri)
        if path.is_dir() and (path / META_FILE).exists():
            return str(path.resolve()), json.loads((path / META_FILE).read_text()).get("version", "unregistered")
        if path.is_dir():
            local = str(path.resolve())
        else:
            import mlflow

            mlflow.set_tracking_uri(settings.tracking_uri)
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(into))
        meta = yaml.safe_load((Path(local) / "MLmodel").read_text())
        flavor = meta.get("flavors", {}).get("python_function")
        if flavor is None:
            raise ValueError("not a pyfunc model")
        version = str((flavor.get("config") or {}).get("model_version", "unregistered"))
    except Exception as error:  # noqa: BLE001 - any failure to fetch is the same problem for the user
        from serving.model.loader import ModelLoadError
        from serving.settings import error_summary, redact_credentials

        raise ModelLoadError(f"--model: cannot load {redact_credentials(model_uri)}: {error_summary(error)}", error) from None
    return local, version


def _progress(total: int | None) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, unit=" rows", unit_scale=True, dynamic_ncols=True, file=sys.stderr,
        disable=not sys.stderr.isatty(), smoothing=0.1,
    )  # fmt: skip


def run_job(
    job: BatchJob,
    settings: Any,
    *,
    on_chunk: Callable[[int], None] | None = None,
) -> RunStats:
    """Score the job's input into its output and rejects file.

    Args:
        job: the checked job.
        settings: where the model registry is.
        on_chunk: called with the chunk index after each chunk is stored (tests inject failures here).

    Returns:
        The run's figures.

    Raises:
        BatchError: when ``--resume`` finds a different input or model.
    """
    started = time.perf_counter()
    work = work_dir_for(job.output)
    input_stat = job.input.stat()
    fingerprint = {"path": str(job.input), "size": input_stat.st_size, "mtime_ns": input_stat.st_mtime_ns}
    old = _load_manifest(work) if job.resume else None
    if job.resume and old is None:
        log.warning("--resume: no interrupted run found for %s; starting from the beginning", job.output.name)

    # Workers start first: they import scikit-learn and friends while this process fetches the model.
    pool = _start_pool(job.workers, settings)
    try:
        with tempfile.TemporaryDirectory(prefix="triage-model-") as model_tmp:
            model_path, version = local_model_copy(job.model_uri, settings, Path(model_tmp))
            fingerprint["sha256"] = file_sha256(job.input)
            manifest = {
                "manifest_version": MANIFEST_VERSION,
                "input": fingerprint,
                "chunk_size": job.chunk_size,
                "model_uri": job.model_uri,
                "model_version": version,
                "columns": {"text": list(job.columns.text), "fields": job.columns.fields},
                "output_format": job.out_format,
                "now": datetime.now(UTC).isoformat(),
            }
            if old is not None:
                _compare_manifest(old, manifest)
                manifest["now"] = old["now"]  # the resumed run must decide exactly as the first one did
            else:
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                (work / MANIFEST).write_text(json.dumps(manifest, indent=2))
            now = datetime.fromisoformat(manifest["now"])
            model = (model_path, f"{job.model_uri}|{version}")
            stats = _score_all(job, work, model, now, pool, on_chunk)
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if pool is not None:
        pool.shutdown()

    import pyarrow.parquet as pq

    parts = sorted(work.glob("part-*.parquet"))
    reject_parts = sorted(work.glob("rejects-*.jsonl"))
    # Count what the output and the rejects file will hold, not what the scorers reported.
    stats.scored = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    stats.rejected = sum(_count_lines(p) for p in reject_parts)
    try:
        check_conservation(stats)
    except ConservationError:
        shutil.rmtree(work, ignore_errors=True)  # its parts cannot be trusted for --resume either
        raise
    assemble(parts, job.out_format, job.output, DECISION_SCHEMA)
    write_text_atomic(job.rejects, (p.read_bytes() for p in reject_parts))
    shutil.rmtree(work, ignore_errors=True)
    stats.seconds = time.perf_counter() - started
    return stats


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def _start_pool(workers: int, settings: Any) -> ProcessPoolExecutor | None:
    """The scoring processes, started now (None when scoring in this process)."""
    if workers <= 0:
        return None
    context = multiprocessing.get_context("spawn")  # pyarrow and mlflow threads make fork unsafe
    settings_env = {"MLFLOW_TRACKING_URI": settings.tracking_uri}
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(settings_env,))
    for _ in range(workers):  # a pool starts a process per task submitted while none is idle
        pool.submit(int)
    return pool


def _score_all(
    job: BatchJob,
    work: Path,
    model: tuple[str, str],
    now: datetime,
    pool: ProcessPoolExecutor | None,
    on_chunk: Callable[[int], None] | None,
) -> RunStats:
    """Feed chunks to the scorers with a bounded queue; count rows and reuse finished parts."""
    import pyarrow.parquet as pq

    stats = RunStats()
    total = count_rows(job.input, job.in_format)
    size = job.input.stat().st_size
    bar = _progress(total)
    pending: deque[tuple[Future | tuple, int]] = deque()

    def finish(item: Future | tuple, rows: int) -> None:
        index, scored, _ = item.result() if isinstance(item, Future) else item
        stats.scored += scored
        bar.update(rows)
        if on_chunk is not None:
            on_chunk(index)

    try:
        for chunk in read_chunks(job.input, job.in_format, job.chunk_size):
            n = chunk.num_rows
            stats.rows_in += n
            if total is None and chunk.nbytes:
                bar.total = int(stats.rows_in * size / chunk.nbytes)  # estimate from bytes read so far
            part = work / f"part-{chunk.index:06d}.parquet"
            if part.exists() and (work / f"rejects-{chunk.index:06d}.jsonl").exists():
                stats.skipped_chunks += 1
                stats.scored += pq.ParquetFile(part).metadata.num_rows
                bar.update(n)
                continue
            if pool is None:
                finish(_score_and_store(chunk, job.columns, now, str(work), model), n)
                continue
            pending.append((pool.submit(_score_and_store, chunk, job.columns, now, str(work), model), n))
            # Two chunks per worker in flight keeps both cores busy and memory bounded.
            while len(pending) >= 2 * job.workers:
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    finally:
        bar.close()
    return stats
