"""Batch scoring on Spark: the registered pyfunc as ``mlflow.pyfunc.spark_udf``, read and written by Spark.

The decisions are the local engine's, row for row, because both run the same pyfunc
(``score_frame``) on the same inputs: ids default to the row number, a missing ``created_at``
is filled with the run's start time before the UDF sees it, and multi-column text is joined by
``serving.batch.runner.join_text``.

Invalid UTF-8 is found per row, as the local engine finds it, and told apart from a genuine U+FFFD
in the file (which is scored): Spark's CSV reader would decode both to U+FFFD, so CSV is read as
ISO-8859-1 (one character per byte, nothing lost) and each cell's bytes are checked with
``is_valid_utf8``; Spark's JSON reader turns a line with invalid bytes into a corrupt record, which
is parsed again with the bytes replaced to find the field and the ticket id.

Differences from the local engine, all outside the decisions: non-string input columns are cast to
strings for the UDF; the output is written by Spark's own writers (value formatting may differ slightly).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving.batch.runner import BatchJob, RunStats, check_conservation, join_text, local_model_copy, output_name
from serving.batch.io import read_columns, write_text_atomic
from serving.decision import DECISION_COLUMNS, DECISION_TYPES
from serving.tickets import INPUT_FIELDS

ROW = "__triage_row"
CORRUPT = "_corrupt_record"
REJECT_FIELD = "__triage_reject_field"
REJECT_PROBLEM = "__triage_reject_problem"
BROKEN = "__triage_broken"  # the first field holding invalid UTF-8, "row" when none can be named
BYTES = "ISO-8859-1"  # decodes every byte to the code point of the same value, so encoding it back is lossless


def spark_session(master: str | None = None) -> Any:
    """The active Spark session, or a new one on ``master`` (``SPARK_MASTER``, else ``local[*]``).

    Args:
        master: a Spark master URL; None defers to the environment.

    Returns:
        A ``SparkSession``.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active  # under spark-submit the cluster is already chosen
    master = master or os.environ.get("SPARK_MASTER") or os.environ.get("MASTER") or "local[*]"
    if master.startswith("local"):
        # Local Python workers must run this interpreter (the one with the model's packages), not
        # whatever `python3` is first on PATH; a cluster keeps its own PYSPARK_PYTHON.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName("ticket-triage score")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def _result_type() -> str:
    """The UDF's struct: the decision columns plus ``error``, as a Spark DDL string."""
    # MLflow's type names are also Spark DDL's.
    return ", ".join([*(f"{name} {kind}" for name, kind in DECISION_TYPES.items()), "error string"])


def _read(spark: Any, job: BatchJob) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    path = str(job.input)
    if job.in_format == "csv":
        header = read_columns(job.input, "csv")
        schema = StructType([StructField(c, StringType()) for c in header] + [StructField(CORRUPT, StringType())])
        frame = (
            spark.read.schema(schema)
            .options(header=True, multiLine=True, escape='"', mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT, encoding=BYTES)
            .csv(path)
        )
        # Each cell's own bytes, as a Spark string (which holds bytes as they are, valid UTF-8 or not).
        raw = {c: F.encode(F.col(f"`{c}`"), BYTES).cast("string") for c in header}
        broken = F.lit(None).cast("string")
        for c in reversed(header):
            broken = F.when(~F.is_valid_utf8(raw[c]), F.lit(c)).otherwise(broken)
        # Spark reads an empty cell as null; the local engine (and the file) says "".
        cells = [F.coalesce(F.make_valid_utf8(raw[c]), F.lit("")).alias(c) for c in header]
        return frame.select(*cells, CORRUPT, broken.alias(BROKEN))
    if job.in_format == "jsonl":
        frame = spark.read.options(mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT).json(path)
        return _repair_json(frame)
    return spark.read.parquet(path).withColumn(BROKEN, F.lit(None).cast("string"))


def _repair_json(frame: Any) -> Any:
    """Read again the JSON lines that Spark refused for invalid UTF-8, with those bytes made U+FFFD.

    Such a line is then a row like the others, with ``BROKEN`` naming the first string field holding
    U+FFFD after the repair ("row" when none does), so it is rejected for its encoding and keeps its
    ticket id, as in the local engine.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    if CORRUPT not in frame.columns:
        return frame.withColumn(BROKEN, F.lit(None).cast("string"))
    fields = [f for f in frame.schema.fields if f.name != CORRUPT]
    invalid = F.col(CORRUPT).isNotNull() & ~F.is_valid_utf8(F.col(CORRUPT))
    parsed = F.from_json(F.make_valid_utf8(F.col(CORRUPT)), StructType(fields))
    broken = F.lit("row")
    for f in reversed(fields):
        if f.dataType.simpleString() == "string":
            broken = F.when(parsed[f.name].contains("\ufffd"), F.lit(f.name)).otherwise(broken)
    return frame.select(
        *[F.when(invalid, parsed[f.name]).otherwise(F.col(f"`{f.name}`")).alias(f.name) for f in fields],
        F.when(invalid, F.lit(None)).otherwise(F.col(CORRUPT)).alias(CORRUPT),
        F.when(invalid, broken).alias(BROKEN),
    )


def _with_row_numbers(spark: Any, frame: Any) -> Any:
    """Number rows 1.. in file order (zipWithIndex keeps partition order, unlike a shuffle)."""
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([*frame.schema.fields, StructField(ROW, LongType(), False)])
    rdd = frame.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1] + 1))
    return spark.createDataFrame(rdd, schema)


def _absent(column: Any) -> Any:
    from pyspark.sql import functions as F

    return column.isNull() | column.cast("string").rlike(r"^\s*$")


def _inputs(frame: Any, job: BatchJob, now: str) -> Any:
    """The struct of contract fields the pyfunc takes (all strings, as its signature says)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    columns = job.columns
    if len(columns.text) == 1:
        text = F.col(f"`{columns.text[0]}`").cast("string")
    else:
        from pyspark import cloudpickle

        # Executors have the model's requirements, not this project: ship join_text itself, not a
        # reference to serving.batch.runner that they could not import.
        cloudpickle.register_pickle_by_value(sys.modules[join_text.__module__])
        joiner = F.udf(lambda *values: join_text(values), StringType())
        text = joiner(*[F.col(f"`{c}`").cast("string") for c in columns.text])
    fields = {"text": text}
    for name in INPUT_FIELDS:
        if name == "text":
            continue
        source = columns.fields.get(name, name)
        fields[name] = F.col(f"`{source}`").cast("string") if source in frame.columns else F.lit(None).cast("string")
    fields["ticket_id"] = F.when(_absent(fields["ticket_id"]), F.col(ROW).cast("string")).otherwise(fields["ticket_id"])
    # The pyfunc would default a missing created_at to its own clock; the run's start keeps it deterministic.
    fields["created_at"] = F.when(_absent(fields["created_at"]), F.lit(now)).otherwise(fields["created_at"])
    return F.struct(*[value.alias(name) for name, value in fields.items()])


def _pre_rejects(frame: Any, job: BatchJob) -> tuple[Any, Any]:
    """(field, problem) columns for rows unreadable before scoring: corrupt records, invalid UTF-8."""
    from pyspark.sql import functions as F

    broken = F.col(BROKEN).isNotNull()
    field = F.when(broken, F.col(BROKEN))
    problem = F.when(broken, F.lit("contains bytes that are not valid UTF-8"))
    if CORRUPT in frame.columns:
        corrupt = F.col(CORRUPT).isNotNull()
        field = F.when(corrupt, F.lit("row")).otherwise(field)
        problem = F.when(corrupt, F.lit("could not be parsed")).otherwise(problem)
    return field, problem


def _decision(name: str) -> Any:
    """A field of the UDF's result, with pandas 3's missing strings turned back into nulls.

    With pandas 3 the pyfunc's string columns have the ``str`` dtype, whose missing value is NaN,
    and pyspark 4 (which does not fully support pandas 3 yet) hands such a value to Spark as the
    string "nan". None of these columns can legitimately hold "nan" (ids are always filled in).
    """
    from pyspark.sql import functions as F

    column = F.col(f"__decision.{name}")
    if DECISION_TYPES.get(name, "string") == "string":  # the error column too
        return F.when(column == "nan", F.lit(None).cast("string")).otherwise(column)
    return column


def _single_file(folder: Path, output: Path, pattern: str) -> None:
    """Move the one data file Spark wrote into place atomically."""
    files = sorted(folder.glob(pattern))
    if len(files) != 1:
        raise RuntimeError(f"expected one {pattern} file from Spark, found {len(files)}")
    os.replace(files[0], output)


def run_spark(job: BatchJob, settings: Any, *, master: str | None = None) -> RunStats:
    """Score ``job`` on Spark with the registered pyfunc as a UDF.

    Args:
        job: the checked job (``--resume`` and ``--chunk-size`` do not apply: Spark retries tasks itself).
        settings: where the registry is.
        master: Spark master URL; ``SPARK_MASTER`` or ``local[*]`` when None.

    Returns:
        The run's figures.
    """
    import mlflow
    from pyspark.sql import functions as F

    started = time.perf_counter()
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri  # executors resolve models:/ URIs too
    mlflow.set_tracking_uri(settings.tracking_uri)
    with tempfile.TemporaryDirectory(prefix="triage-model-") as tmp:
        local_model_copy(job.model_uri, settings, Path(tmp))  # fail fast, with exit 2, on a bad --model
    spark = spark_session(master)
    predict = mlflow.pyfunc.spark_udf(spark, job.model_uri, result_type=_result_type(), env_manager="local")
    now = datetime.now(UTC).isoformat()

    frame = _with_row_numbers(spark, _read(spark, job))
    field, problem = _pre_rejects(frame, job)
    scored = frame.withColumn(REJECT_FIELD, field).withColumn(REJECT_PROBLEM, problem)
    # Unreadable rows go through the UDF too (pandas UDFs cannot sit inside a CASE WHEN); their
    # decisions are dropped below.
    scored = scored.withColumn("__decision", predict(_inputs(frame, job, now)))
    stage = Path(tempfile.mkdtemp(prefix=f".{job.output.name}.spark-", dir=job.output.parent))
    try:
        # One pass through the UDF: stage everything, then split into output and rejects.
        scored.write.mode("overwrite").parquet(str(stage / "scored"))
        staged = spark.read.parquet(str(stage / "scored"))
        passthrough = [c for c in frame.columns if c not in (ROW, CORRUPT, BROKEN)]
        error = _decision("error")
        good = staged.where(F.col(REJECT_FIELD).isNull() & error.isNull())
        out = good.orderBy(ROW).select(
            *[F.col(f"`{c}`").alias(output_name(c)) for c in passthrough],
            *[_decision(c).alias(c) for c in DECISION_COLUMNS],
        )
        _write(out.coalesce(1), job, stage / "out")
        rejected = staged.where(F.col(REJECT_FIELD).isNotNull() | error.isNotNull()).orderBy(ROW)
        # concat of nulls is "" in Spark, not null: pick the pre-scoring reason explicitly.
        reason = F.when(F.col(REJECT_FIELD).isNotNull(), F.concat(F.col(REJECT_FIELD), F.lit(": "), F.col(REJECT_PROBLEM))).otherwise(error)
        rows = rejected.select(
            F.col(ROW).alias("row"),
            _ticket_id(job, staged.columns).alias("ticket_id"),
            F.coalesce(F.col(REJECT_FIELD), F.split(error, ":").getItem(0)).alias("field"),
            reason.alias("reason"),
        )
        lines = (json.dumps(r.asDict(), ensure_ascii=False).encode("utf-8") + b"\n" for r in rows.toLocalIterator())
        write_text_atomic(job.rejects, lines)
        stats = RunStats(rows_in=staged.count(), scored=good.count())
        stats.rejected = rejected.count()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    check_conservation(stats)
    stats.seconds = time.perf_counter() - started
    return stats


def _ticket_id(job: BatchJob, columns: list[str]) -> Any:
    from pyspark.sql import functions as F

    source = job.columns.fields.get("ticket_id", "ticket_id")
    value = F.col(f"`{source}`").cast("string") if source in columns else F.lit(None).cast("string")
    # An id whose own bytes are broken is no id, nor is anything in a row whose fields cannot be told
    # apart (field "row": not JSON, wrong field count); the local engine writes none either.
    broken_id = F.col(REJECT_FIELD).isin(source, "row")
    return F.when(broken_id, F.lit(None).cast("string")).when(_absent(value), F.col(ROW).cast("string")).otherwise(value)


def _write(frame: Any, job: BatchJob, folder: Path) -> None:
    if job.out_format == "csv":
        frame.write.options(header=True, escape='"', quoteAll=False).csv(str(folder))
        _single_file(folder, job.output, "part-*.csv")
    elif job.out_format == "jsonl":
        frame.write.option("ignoreNullFields", "false").json(str(folder))
        _single_file(folder, job.output, "part-*.json")
    else:
        frame.write.parquet(str(folder))
        _single_file(folder, job.output, "part-*.parquet")
