"""Hypothesis strategies for the fuzz tests: the values real exports carry, and worse."""

from __future__ import annotations

import json

from hypothesis import strategies as st

BOM = b"\xef\xbb\xbf"
MARKER = "zebrafinchquartz"  # ticket text that no error, reject or log line may carry

# Every code point, lone surrogates included, and the ones real exports carry most.
anychar = st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", "\udc80", "\x00", "\ufeff", "\r", "\n", '"', ","])
anytext = st.text(anychar, max_size=12)
valid_char = anychar.filter(lambda c: not "\ud800" <= c <= "\udfff")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | anytext,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(anytext, inner, max_size=3),
    max_leaves=8,
)
# Objects with the contract's keys (and others) holding any JSON value.
ticket_like = st.dictionaries(
    st.sampled_from(["ticket_id", "text", "created_at", "appointment_at", "emergency", "timezone", "note"]) | anytext,
    json_values,
    max_size=5,
)
# Text that every surface must score: valid Unicode, not blank.
good_text = st.text(valid_char, min_size=1, max_size=60).filter(lambda text: text.strip())


def json_line(value: object, ensure_ascii: bool) -> bytes:
    """One JSON text: lone surrogates as escapes (ensure_ascii), or written raw as invalid UTF-8."""
    if ensure_ascii:
        return json.dumps(value, ensure_ascii=True).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


junk_line = st.one_of(
    st.tuples(st.one_of(ticket_like, json_values), st.booleans()).map(lambda pair: json_line(*pair)),
    st.binary(max_size=40),
)


def with_noise(line: bytes) -> st.SearchStrategy[bytes]:
    """The line as is, after a byte-order mark, with a CR (Windows line ends) or leading blanks."""
    return st.sampled_from([line, BOM + line, line + b"\r", b"  " + line])


def data_rows(data: bytes) -> list[bytes]:
    """The rows of a JSON Lines file: every line that is not blank once a byte-order mark is dropped."""
    return [line.removeprefix(BOM) for line in data.split(b"\n") if line.removeprefix(BOM).strip()]


def json_lines(path) -> list:
    """The records of a JSON Lines file, split on newlines only (``str.splitlines`` also splits on
    U+2028 and other separators, which JSON strings may hold raw)."""
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]
