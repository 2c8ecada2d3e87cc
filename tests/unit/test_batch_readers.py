"""The batch readers row by row: what a bad row becomes, and a fuzz over raw bytes and JSON values."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.batch.io import NOT_UTF8, BatchFileError, read_chunks, read_columns
from serving.tickets import NOT_UNICODE
from tests.utils.fuzz import BOM, MARKER, data_rows, junk_line, valid_char, with_noise
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def read_all(path: Path, kind: str, chunk_size: int = 3) -> list:
    read_columns(path, kind)  # the runner's order: whole-file checks first
    return list(read_chunks(path, kind, chunk_size))


def rows_of(chunks: list) -> list[tuple[dict | None, tuple[str, str] | None, dict | None]]:
    """(values as validation sees them, reject reason, recovered values) per row, in file order."""
    rows = []
    for chunk in chunks:
        columns = {name: chunk.column_values(name) for name in chunk.table.column_names}
        for i in range(chunk.table.num_rows):
            values = None if chunk.records is None else chunk.records[i]
            if values is None:
                values = {name: column[i] for name, column in columns.items()}
            rows.append((values, chunk.bad.get(i), chunk.bad_values.get(i)))
    return rows


def test_a_byte_order_mark_on_the_first_line_is_not_part_of_the_json(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(BOM + b'{"ticket_id": "a", "text": "I cannot log in"}\n' + BOM + b'{"ticket_id": "b", "text": "refund"}\n')
    assert read_columns(path, "jsonl") == ["ticket_id", "text"]
    assert [(values["ticket_id"], bad) for values, bad, _ in rows_of(read_all(path, "jsonl"))] == [("a", None), ("b", None)]


def test_a_lone_surrogate_escape_is_a_reject_naming_the_column(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"ticket_id": "a", "text": "\\ud800 help me log in"}\n'
        '{"ticket_id": "b", "text": "ok", "note": {"deep": ["\\udfff"]}}\n'
        '{"ticket_id": "c", "text": "\\ud83d\\ude00 a valid pair"}\n'
        '{"\\ud800": 1, "text": "a bad key"}\n'
    )
    rows = rows_of(read_all(path, "jsonl"))
    assert [bad for _, bad, _ in rows] == [("text", NOT_UNICODE), ("note", NOT_UNICODE), None, ("row", NOT_UNICODE)]
    assert rows[2][0]["text"] == "\U0001f600 a valid pair"
    assert rows[0][2]["ticket_id"] == "a"  # kept aside for the reject's id


def test_json_values_keep_their_json_types_for_validation(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [{"ticket_id": 1, "text": "a"}, {"ticket_id": 2.5, "text": 42}, {"ticket_id": {"x": MARKER}, "text": {"subject": "hi"}},
             {"ticket_id": True, "text": ["a"]}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    chunks = read_all(path, "jsonl", chunk_size=10)
    assert chunks[0].column_values("text") == ["a", 42, {"subject": "hi"}, ["a"]]
    assert chunks[0].column_values("ticket_id") == [1, 2.5, {"x": MARKER}, True]
    assert chunks[0].column_values("absent") == [None] * 4
    assert chunks[0].table.column("text").type == "string"  # the table still holds the column, as JSON text


def test_unparseable_json_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "ok"}\n[1, 2]\n{"text": "cut\n' + b"[" * 5000 + b"\n" + b'{"text": "caf\xe9"}\n   \n')
    rows = rows_of(read_all(path, "jsonl"))
    assert [bad for _, bad, _ in rows] == [None, ("row", "is not a JSON object"), ("row", "is not a JSON object"),
                                           ("row", "is not a JSON object"), ("text", NOT_UTF8)]
    assert [recovered for _, _, recovered in rows][1:4] == [None, None, None]  # nothing to take an id from


def test_a_csv_row_with_the_wrong_number_of_fields_recovers_nothing(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"ticket_id,text,note\n"
        b"T1,fine,n\n"
        + f'{MARKER} and more,T2,"shifted, text",extra\n'.encode()
        + b"T3,short\n"
        + b"T4,caf\xe9 \xff,n\n"
    )
    rows = rows_of(read_all(path, "csv"))
    assert [bad for _, bad, _ in rows] == [None, ("row", "has 4 fields, the header has 3"),
                                           ("row", "has 2 fields, the header has 3"), ("text", NOT_UTF8)]
    assert [recovered for _, _, recovered in rows][1:3] == [None, None]
    assert rows[3][2]["ticket_id"] == "T4"
    for values, bad, _ in rows[1:]:
        assert set(values.values()) == {""}  # an unreadable row is blank in the table
    assert MARKER not in str(rows)


# ---------------------------------------------------------------- fuzz

jsonl_lines = st.lists(junk_line.flatmap(with_noise), min_size=1, max_size=12)


def _oracle(line: bytes) -> dict | None:
    """The record a line must be read as, or None when it must be a reject (the contract, restated)."""
    try:
        record = json.loads(line.decode("utf-8"))
        json.dumps(record, ensure_ascii=False).encode("utf-8")  # a lone surrogate anywhere fails here
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN == NaN here


@FUZZ
@given(lines=jsonl_lines, chunk_size=st.integers(1, 5))
def test_fuzz_jsonl_reader_reads_every_line_once_and_every_good_line_as_written(tmp_path_factory, lines, chunk_size):
    path = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    data = b"\n".join(lines)
    path.write_bytes(data)
    try:
        read_columns(path, "jsonl")
    except BatchFileError:
        return  # no JSON object at all: a whole-file error with its reason, nothing to read
    rows = rows_of(list(read_chunks(path, "jsonl", chunk_size)))
    expected = [_oracle(line) for line in data_rows(data)]
    assert len(rows) == len(expected)  # blank lines are not rows; every other line is one row
    for (values, bad, _), record in zip(rows, expected):
        if record is None:
            assert bad is not None and bad[1] in (NOT_UTF8, NOT_UNICODE, "is not a JSON object")
        else:
            assert bad is None
            assert _same(values, record)


csv_cell = st.text(valid_char, max_size=10) | st.just("RAWBYTES")


@FUZZ
@given(
    rows=st.lists(st.lists(csv_cell, min_size=1, max_size=5), min_size=1, max_size=10),
    chunk_size=st.integers(1, 4),
)
def test_fuzz_csv_reader_keeps_good_rows_and_rejects_misshapen_ones(tmp_path_factory, rows, chunk_size):
    header = ["ticket_id", "text", "note"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("fuzz") / "in.csv"
    path.write_bytes(BOM + buffer.getvalue().encode("utf-8").replace(b"RAWBYTES", b"\xff\xfe caf\xe9"))
    read = rows_of(read_all(path, "csv", chunk_size))
    assert len(read) == len(rows)
    for (values, bad, recovered), row in zip(read, rows):
        if len(row) != len(header):
            assert bad == ("row", f"has {len(row)} fields, the header has {len(header)}") and recovered is None
        elif any("RAWBYTES" in cell for cell in row):
            assert bad is not None and bad[1] == NOT_UTF8 and bad[0] in header
        else:
            assert bad is None and [values[name] for name in header] == row
        if bad is not None:
            assert set(values.values()) <= {""}


@FUZZ
@given(data=st.binary(max_size=300), kind=st.sampled_from(["csv", "jsonl"]))
def test_fuzz_raw_bytes_never_crash_a_reader(tmp_path_factory, data, kind):
    path = tmp_path_factory.mktemp("fuzz") / f"in.{kind}"
    path.write_bytes(data)
    try:
        header = read_columns(path, kind)
    except BatchFileError:
        return
    for chunk in read_chunks(path, kind, 2):
        assert set(chunk.bad) <= set(range(chunk.table.num_rows))
        assert set(chunk.bad_values) <= set(chunk.bad)
        chunk.table.to_pylist()  # every value the table holds can be written out
        if kind == "csv":
            assert chunk.table.column_names == header


@pytest.mark.parametrize("content", [b"", b"\n\n", BOM, b"[1]\n\"x\"\n"])
def test_a_file_without_rows_is_a_whole_file_error(tmp_path, content):
    for kind in ("csv", "jsonl"):
        path = tmp_path / f"in.{kind}"
        path.write_bytes(content)
        if kind == "csv" and content == b"[1]\n\"x\"\n":
            continue  # a CSV with header "[1]" is a file with a header
        with pytest.raises(BatchFileError):
            read_columns(path, kind)


def test_a_chunk_of_unreadable_lines_keeps_its_row_count_in_a_worker(tmp_path):
    """A table without columns loses its row count when pickled; the chunk carries it apart."""
    import pickle

    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "fine"}\n[1]\n"x"\n')
    chunks = [pickle.loads(pickle.dumps(chunk)) for chunk in read_all(path, "jsonl", chunk_size=2)]
    assert chunks[1].table.num_columns == 0 and chunks[1].table.num_rows == 0  # what pickling does
    assert [chunk.num_rows for chunk in chunks] == [2, 2]
    assert chunks[1].column_values("text") == [None, None]
