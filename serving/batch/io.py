"""Streaming readers and writers for batch scoring: CSV, JSON Lines and Parquet, chosen by extension.

Readers yield ``Chunk`` objects of a fixed number of rows, so chunk boundaries depend only on the
input and the chunk size (``--resume`` relies on that). Every value passes through as read: CSV
cells stay strings, JSON values keep their JSON type, Parquet columns keep their Arrow type.

Broken text encoding is found per row, never per file: text formats are decoded with
``errors="surrogateescape"``, which turns each invalid UTF-8 byte into a lone surrogate
(U+DC80..U+DCFF). A correctly decoded file can never contain those code points, so a row holding
one had invalid bytes, exactly; a genuine U+FFFD in the file is left alone. Such a row becomes a
reject naming the column; its values are never written out. A JSON string may also spell a lone
surrogate as an escape (``"\\ud800"``), which no UTF-8 writer or tokenizer takes: that row is
validated first like any other (so a bad contract field gets the API's words) and otherwise
rejected naming the column.

An unreadable row is blank in the chunk's table and listed in ``Chunk.bad``; what can safely be
recovered of it (for its ticket id) is in ``Chunk.bad_values``. A CSV row with the wrong number of
fields recovers nothing: which cell is the id cannot be known, and guessing could put text there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from serving.tickets import NOT_UNICODE, has_surrogate

FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_BROKEN = re.compile("[\udc80-\udcff]")
# A JSON escape that may spell a lone surrogate (\uD800..\uDFFF); only such lines are searched for one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_BOM = b"\xef\xbb\xbf"
NOT_UTF8 = "contains bytes that are not valid UTF-8"
# Help-desk descriptions can be long; the contract's own limit is checked later, per row.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class BatchFileError(Exception):
    """A whole-file problem (unknown extension, unreadable file, missing column): nothing is scored."""


@dataclass
class Chunk:
    """A slice of consecutive input rows.

    Attributes:
        index: 0-based chunk number.
        first_row: 1-based data-row number of the chunk's first row.
        table: the rows as read, one column per input column.
        bad: row offset within the chunk -> (field, problem) for rows that could not be read.
        nbytes: bytes of input consumed so far (for the progress estimate), 0 when unknown.
        bad_values: row offset -> the values of an unreadable row as read, kept out of ``table``
            (where the row is blank) and used only to recover its ticket id. Missing for a row
            whose fields cannot be told apart (wrong field count, not a JSON object).
        records: JSON Lines only: every row's object as parsed (``{}`` for a line that is not a
            JSON object), so validation sees each value's JSON type; ``table`` unifies a column's
            types (42 among strings becomes "42", 1 among floats becomes 1.0).
        checked_first: rows of ``bad`` that parsed but hold a lone surrogate somewhere: the scorer
            validates them first, so a bad contract field gets the words the API gives it, and
            rejects them for the surrogate only when they pass (a pass-through column cannot be
            written out).
        num_rows: rows in the chunk, held apart from ``table``: a table without columns (a JSON
            Lines chunk of unreadable lines) loses its row count when pickled to a worker.
    """

    index: int
    first_row: int
    table: pa.Table
    bad: dict[int, tuple[str, str]] = field(default_factory=dict)
    nbytes: int = 0
    bad_values: dict[int, dict[str, Any]] = field(default_factory=dict)
    records: list[dict[str, Any]] | None = None
    checked_first: set[int] = field(default_factory=set)
    num_rows: int = -1

    def __post_init__(self) -> None:
        if self.num_rows < 0:
            self.num_rows = self.table.num_rows

    def column_values(self, name: str) -> list[Any]:
        """One input column's values in row order, as validation should see them (None where absent)."""
        if self.records is not None:
            return [record.get(name) for record in self.records]
        if name not in self.table.column_names:
            return [None] * self.num_rows
        return self.table.column(name).to_pylist()


def file_format(path: Path, role: str) -> str:
    """The format named by a file's extension.

    Args:
        path: the file.
        role: "input" or "output", for the error message.

    Returns:
        "csv", "jsonl" or "parquet".

    Raises:
        BatchFileError: for any other extension.
    """
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise BatchFileError(
            f"{role}: unknown extension {Path(path).suffix or '(none)'!r}; use .csv, .jsonl or .parquet"
        )
    return kind


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read, for the progress estimate."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n


def read_columns(path: Path, kind: str) -> list[str]:
    """The input's column names, read without scanning the file.

    Args:
        path: the input file.
        kind: its format.

    Returns:
        Column names in file order (for JSON Lines: the keys of the first readable record).

    Raises:
        BatchFileError: when the file cannot be opened or has no header/schema.
    """
    try:
        if kind == "parquet":
            return list(pq.ParquetFile(path).schema_arrow.names)
        with open(path, "rb") as handle:
            if kind == "csv":
                text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape", newline="")
                header = next(csv.reader(text), None)
                if not header:
                    raise BatchFileError("input: the CSV file is empty (no header row)")
                if any(_BROKEN.search(name) for name in header):
                    raise BatchFileError("input: the CSV header is not valid UTF-8")
                if len(set(header)) != len(header):
                    raise BatchFileError("input: the CSV header repeats a column name")
                return header
            for line in handle:
                line = line.removeprefix(_BOM)
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(record, dict):
                    return list(record)
            raise BatchFileError("input: no JSON object found in the JSON Lines file")
    except BatchFileError:
        raise
    except (OSError, pa.ArrowException, csv.Error, UnicodeError) as error:
        raise BatchFileError(f"input: cannot read {Path(path).name}: {type(error).__name__}") from None


def _csv_chunks(path: Path, chunk_size: int) -> Iterator[Chunk]:
    with open(path, "rb") as raw:
        counting = _Counting(raw)
        text = io.TextIOWrapper(
            io.BufferedReader(counting, 1 << 20), encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        reader = csv.reader(text)
        header = next(reader)
        width = len(header)
        blank = [""] * width
        rows: list[list[str]] = []
        bad: dict[int, tuple[str, str]] = {}
        bad_values: dict[int, dict[str, Any]] = {}
        index, first_row = 0, 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error:
                bad[len(rows)] = ("row", "could not be parsed as CSV")
                record = blank
            else:
                if not record:  # a blank line is not a row
                    continue
                if len(record) != width:
                    # Nothing is recovered: with a field too many or too few, any cell could be text.
                    bad[len(rows)] = ("row", f"has {len(record)} fields, the header has {width}")
                    record = blank
                elif _BROKEN.search("".join(record)):
                    name = next(h for h, v in zip(header, record) if _BROKEN.search(v))
                    bad[len(rows)] = (name, NOT_UTF8)
                    bad_values[len(rows)] = dict(zip(header, record))
                    record = blank
            rows.append(record)
            if len(rows) == chunk_size:
                yield _csv_chunk(index, first_row, header, rows, bad, counting.count, bad_values)
                index, first_row = index + 1, first_row + len(rows)
                rows, bad, bad_values = [], {}, {}
        if rows:
            yield _csv_chunk(index, first_row, header, rows, bad, counting.count, bad_values)


def _csv_chunk(
    index: int, first_row: int, header: list[str], rows: list[list[str]], bad: dict, nbytes: int, bad_values: dict
) -> Chunk:
    columns = list(zip(*rows)) if rows else [()] * len(header)
    table = pa.table({name: pa.array(values, pa.string()) for name, values in zip(header, columns)})
    return Chunk(index, first_row, table, dict(bad), nbytes, dict(bad_values))


def _parquet_can_store(kind: pa.DataType) -> bool:
    """False for a type Parquet cannot write: a struct without fields (``{}``), however deep."""
    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(_parquet_can_store(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _parquet_can_store(kind.value_type)
    return True


def _column_array(values: list[Any]) -> pa.Array:
    """Arrow array of JSON values; a column mixing types (or holding ``{}``) becomes JSON text rather than failing."""
    try:
        array = pa.array(values)
        if _parquet_can_store(array.type):
            return array
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    return pa.array(
        [None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values],
        pa.string(),
    )


def _jsonl_chunk(
    index: int, first_row: int, records: list[dict], bad: dict, nbytes: int, bad_values: dict, checked_first: set[int]
) -> Chunk:
    names: dict[str, None] = {}
    for i, record in enumerate(records):
        if i not in bad:
            names.update(dict.fromkeys(record))
    # Unreadable rows are blank in the table: they must not decide column types.
    table = pa.table({name: _column_array([None if i in bad else r.get(name) for i, r in enumerate(records)]) for name in names})
    if not names:  # every row of the chunk was unreadable
        table = pa.table({"__row": pa.nulls(len(records))}).drop_columns(["__row"])
    return Chunk(index, first_row, table, dict(bad), nbytes, dict(bad_values), records, set(checked_first))


def _surrogate_key(record: dict[str, Any]) -> str | None:
    """The first key whose value (at any depth) holds a lone surrogate; "row" when a key itself does."""
    def holds(value: Any) -> bool:
        if isinstance(value, str):
            return has_surrogate(value)
        if isinstance(value, dict):
            return any(holds(k) or holds(v) for k, v in value.items())
        if isinstance(value, list):
            return any(holds(v) for v in value)
        return False

    for key, value in record.items():
        if has_surrogate(key):
            return "row"
        if holds(value):
            return key
    return None


def _jsonl_chunks(path: Path, chunk_size: int) -> Iterator[Chunk]:
    with open(path, "rb") as raw:
        counting = _Counting(raw)
        handle = io.BufferedReader(counting, 1 << 20)
        records: list[dict] = []
        bad: dict[int, tuple[str, str]] = {}
        bad_values: dict[int, dict[str, Any]] = {}
        checked_first: set[int] = set()
        index, first_row = 0, 1
        for line in handle:
            # A byte-order mark (Windows exports; concatenated files repeat it) is not part of the JSON.
            line = line.removeprefix(_BOM)
            if not line.strip():
                continue
            try:
                decoded = line.decode("utf-8")
                broken = False
            except UnicodeDecodeError:
                decoded = line.decode("utf-8", "surrogateescape")
                broken = True
            try:
                record = json.loads(decoded)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
                record = None
            if not isinstance(record, dict):
                bad[len(records)] = ("row", NOT_UTF8 if broken else "is not a JSON object")
                record = {}
            elif broken:
                name = next((k for k, v in record.items() if isinstance(v, str) and _BROKEN.search(v)), "row")
                bad[len(records)] = ("row" if has_surrogate(name) else name, NOT_UTF8)
                bad_values[len(records)] = record
            elif _SURROGATE_ESCAPE.search(line) and (name := _surrogate_key(record)) is not None:
                bad[len(records)] = (name, NOT_UNICODE)
                bad_values[len(records)] = record
                checked_first.add(len(records))
            records.append(record)
            if len(records) == chunk_size:
                yield _jsonl_chunk(index, first_row, records, bad, counting.count, bad_values, checked_first)
                index, first_row = index + 1, first_row + len(records)
                records, bad, bad_values, checked_first = [], {}, {}, set()
        if records:
            yield _jsonl_chunk(index, first_row, records, bad, counting.count, bad_values, checked_first)


def _parquet_chunks(path: Path, chunk_size: int) -> Iterator[Chunk]:
    source = pq.ParquetFile(path)
    pending: list[pa.RecordBatch] = []
    held, index, first_row = 0, 0, 1
    for batch in source.iter_batches(batch_size=chunk_size):
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_size:
            table = pa.Table.from_batches(pending, schema=source.schema_arrow)
            yield Chunk(index, first_row, table.slice(0, chunk_size).combine_chunks())
            rest = table.slice(chunk_size)
            pending, held = rest.to_batches(), rest.num_rows
            index, first_row = index + 1, first_row + chunk_size
    if held:
        yield Chunk(index, first_row, pa.Table.from_batches(pending, schema=source.schema_arrow).combine_chunks())


def read_chunks(path: Path, kind: str, chunk_size: int) -> Iterator[Chunk]:
    """Stream the input in chunks of ``chunk_size`` rows (the last may be shorter).

    Row numbers are 1-based data rows: in a CSV the header is not a row, blank lines are skipped and
    a quoted value spanning several lines is one row; in JSON Lines blank lines are skipped; in
    Parquet it is the row's position in the file.

    Args:
        path: the input file.
        kind: its format.
        chunk_size: rows per chunk.

    Yields:
        The chunks in file order.
    """
    if kind == "csv":
        return _csv_chunks(path, chunk_size)
    if kind == "jsonl":
        return _jsonl_chunks(path, chunk_size)
    return _parquet_chunks(path, chunk_size)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 23):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: Path, chunk_size: int = 50_000) -> tuple[Any, dict[int, tuple[str, str]]]:
    """Read a whole CSV, JSON Lines or Parquet file the way batch scoring reads it.

    The one table reader for every file the project takes in (training data, evaluation sets,
    batch input): same formats, same per-row encoding checks, same row numbers.

    Args:
        path: the file; its extension names the format.
        chunk_size: rows read at a time.

    Returns:
        The readable rows as a pandas frame (CSV cells as strings, JSON values as their JSON type,
        Parquet columns as their Arrow type) and, for each unreadable row, its 1-based row number
        -> (field, problem). Unreadable rows are not in the frame.

    Raises:
        BatchFileError: for an unknown extension or a file that cannot be opened.
    """
    kind = file_format(path, "input")
    read_columns(path, kind)  # whole-file problems (no file, no header) fail here, with their reason
    tables, bad = [], {}
    for chunk in read_chunks(path, kind, chunk_size):
        if chunk.bad:
            keep = [i for i in range(chunk.num_rows) if i not in chunk.bad]
            tables.append(chunk.table.take(pa.array(keep, pa.int64())))
            bad.update({chunk.first_row + i: reason for i, reason in chunk.bad.items()})
        else:
            tables.append(chunk.table)
    tables = [t for t in tables if t.num_columns]
    if not tables:
        import pandas as pd

        return pd.DataFrame(), bad
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.to_pandas(), bad


def count_rows(path: Path, kind: str) -> int | None:
    """The number of rows when the file says so cheaply (Parquet metadata), else None."""
    if kind == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    return None


# ---------------------------------------------------------------- writing


def write_part(table: pa.Table, path: Path) -> None:
    """Write one finished chunk atomically: its existence means the chunk is done.

    Args:
        table: the chunk's output rows.
        path: the part file (Parquet).
    """
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _unified_schema(paths: list[Path], tail: pa.Schema) -> pa.Schema:
    """One schema for all parts: pass-through columns in first-seen order, ``tail`` columns last.

    JSON Lines chunks may type a column differently (all-null in one chunk, integer in another);
    types are promoted, and a column whose types cannot be reconciled becomes a string.
    """
    fields: dict[str, list[pa.DataType]] = {}
    for path in paths:
        for f in pq.read_schema(path):
            if f.name not in tail.names:
                fields.setdefault(f.name, []).append(f.type)
    out = []
    for name, types in fields.items():
        try:
            merged = pa.unify_schemas([pa.schema([(name, t)]) for t in types], promote_options="permissive")
            out.append(merged.field(name))
        except (pa.ArrowException, TypeError):
            out.append(pa.field(name, pa.string()))
    return pa.schema([*out, *tail])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for f in schema:
        if f.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, f.type))
            continue
        column = table.column(f.name)
        if column.type == f.type:
            columns.append(column)
            continue
        try:
            columns.append(column.cast(f.type))
        except (pa.ArrowException, TypeError):
            values = column.to_pylist()
            columns.append(
                pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v, default=str) for v in values], pa.string())
            )
    return pa.Table.from_arrays(columns, schema=schema)


def _csv_safe(table: pa.Table) -> pa.Table:
    """Nested columns (lists, structs from JSON) as JSON text, since CSV cells are flat."""
    for i, f in enumerate(table.schema):
        if pa.types.is_nested(f.type):
            values = [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in table.column(i).to_pylist()]
            table = table.set_column(i, pa.field(f.name, pa.string()), pa.array(values, pa.string()))
    return table


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def assemble(parts: list[Path], kind: str, output: Path, tail: pa.Schema) -> None:
    """Concatenate finished parts into the output file atomically (temporary file, then rename).

    Args:
        parts: part files in chunk order.
        kind: output format.
        output: the final path; it only ever appears complete.
        tail: the decision columns' schema, placed after the pass-through columns.
    """
    schema = _unified_schema(parts, tail) if parts else tail
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if kind == "parquet":
                with pq.ParquetWriter(handle, schema, compression="zstd") as writer:
                    for part in parts:
                        writer.write_table(_conform(pq.read_table(part), schema))
                    if not parts:
                        writer.write_table(schema.empty_table())
            elif kind == "csv":
                import pyarrow.csv as pacsv

                csv_schema = _csv_safe(schema.empty_table()).schema
                with pacsv.CSVWriter(handle, csv_schema) as writer:
                    for part in parts:
                        writer.write_table(_csv_safe(_conform(pq.read_table(part), schema)))
            else:
                for part in parts:
                    for batch in _conform(pq.read_table(part), schema).to_batches(max_chunksize=10_000):
                        lines = [json.dumps(r, ensure_ascii=False, default=_json_default) for r in batch.to_pylist()]
                        if lines:
                            handle.write(("\n".join(lines) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, pieces: Iterator[bytes]) -> None:
    """Write a file from byte pieces via a temporary file in the same folder and a rename.

    Args:
        path: the final path.
        pieces: the content.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_table(table: pa.Table, path: Path) -> None:
    """Write a whole table as CSV, JSON Lines or Parquet (by extension), atomically and private (0600).

    Args:
        table: the rows.
        path: the output file; it appears complete or not at all, readable by its owner only
            (``write_text_atomic`` writes through ``mkstemp``).

    Raises:
        BatchFileError: for an unknown extension.
    """
    kind = file_format(path, "output")
    buffer = io.BytesIO()
    if kind == "parquet":
        pq.write_table(table, buffer, compression="zstd")
    elif kind == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(_csv_safe(table), buffer)
    else:
        for record in table.to_pylist():
            buffer.write((json.dumps(record, ensure_ascii=False, default=_json_default) + "\n").encode("utf-8"))
    write_text_atomic(Path(path), iter([buffer.getvalue()]))
