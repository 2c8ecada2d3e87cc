"""Training data: load a desk's labelled export and check it, then split it without leaking copies.

Loading (``load_export``) maps the desk's column and label names onto ours and drops the rows it cannot
use, counting each reason for the data report. Splitting (``make_split``) keeps every group (a phrasing
family, or a set of duplicate texts) on one side: by family when the file has ``family``; otherwise
the newest tickets are the test split when it has ``created_at``; otherwise a seeded random split.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.batch.io import BatchFileError
from serving.batch.io import read_table as read_file
from serving.batch.runner import BatchError, ColumnMap, join_text
from serving.decision import CATEGORIES
from serving.settings import PROJ_ROOT
from serving.tickets import TicketError, is_absent, parse_text, parse_timestamp

REQUIRED_COLUMNS: tuple[str, ...] = ("text", "category")
# The fields a training file may carry besides ``text``; ``--map FIELD=COLUMN`` names the desk's column.
TRAINING_FIELDS: tuple[str, ...] = ("text", "category", "created_at", "intent", "family")
SAMPLE_PATH = PROJ_ROOT / "data" / "sample" / "tickets.csv"
# Labels longer than this are not echoed in reports: a long "label" is more likely text in the wrong column.
_MAX_LABEL_ECHO = 40
_MAX_LABELS_ECHOED = 20


class DataError(ValueError):
    """The training or evaluation file cannot be used; the message says why."""


def read_table(path: Path) -> pd.DataFrame:
    """Read a labelled CSV, JSON Lines or Parquet file with the batch reader (one reader for every input).

    Raises:
        DataError: the file is missing, has an unknown extension, or has rows that cannot be read.
    """
    frame, bad = _read(path)
    if bad:
        rows = ", ".join(f"row {row} ({field}: {problem})" for row, (field, problem) in sorted(bad.items())[:10])
        raise DataError(f"{path}: {len(bad)} unreadable row(s): {rows}")
    return frame


def _read(path: Path) -> tuple[pd.DataFrame, dict[int, tuple[str, str]]]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        return read_file(path)
    except BatchFileError as error:
        raise DataError(f"{path}: {error}") from None


def read_label_map(path: Path) -> dict[str, str | None]:
    """Read the mapping from the desk's labels to our five categories.

    Two formats: a JSON object ``{"Billing inquiry": "billing", "Spam": null}``, or a CSV, JSON Lines or
    Parquet table whose first column is the desk's label and second our category. A label mapped to
    null (JSON) or to an empty cell is left out of training on purpose.

    Raises:
        DataError: when the file cannot be read, a label is mapped twice, or a target is not a category.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DataError(f"--label-map {path}: cannot read it as JSON ({type(error).__name__})") from None
        if not isinstance(raw, dict):
            raise DataError(f"--label-map {path}: expected a JSON object of desk label -> category")
        pairs = list(raw.items())
    else:
        table = read_table(path)
        if table.shape[1] < 2:
            raise DataError(f"--label-map {path}: expected two columns, desk label and category")
        pairs = list(zip(table.iloc[:, 0], table.iloc[:, 1]))
    mapping: dict[str, str | None] = {}
    for label, target in pairs:
        key = str(label).strip()
        target = None if target is None or is_absent(target) else str(target).strip().lower()
        if target is not None and target not in CATEGORIES:
            raise DataError(f"--label-map {path}: {key!r} maps to {target!r}, not one of {', '.join(CATEGORIES)}")
        if key in mapping and mapping[key] != target:
            raise DataError(f"--label-map {path}: {key!r} is mapped twice")
        mapping[key] = target
    return mapping


def map_labels(values: Iterable[Any], label_map: dict[str, str | None] | None = None) -> tuple[list[str | None], list[str | None]]:
    """Our category for each of the desk's labels, or the reason the row cannot be used.

    A label is first looked up in ``label_map``; one of our five names in any case is taken as it is.

    Args:
        values: the label column.
        label_map: desk label -> category (None: leave the row out).

    Returns:
        (categories, reasons): per row, the category or None, and None or why it was dropped.
    """
    label_map = label_map or {}
    ours = {c: c for c in CATEGORIES}
    categories: list[str | None] = []
    reasons: list[str | None] = []
    for value in values:
        if value is None or is_absent(value):
            categories.append(None)
            reasons.append("category: is required")
            continue
        key = str(value).strip()
        if key in label_map:
            target = label_map[key]
            categories.append(target)
            reasons.append(None if target else "category: left out by the label map")
            continue
        target = ours.get(key.lower())
        categories.append(target)
        reasons.append(None if target else "category: not one of our categories and not in the label map")
    return categories, reasons


def _text_problem(error: TicketError) -> str:
    # "is 20071 characters after trimming; ..." would make one reason per length.
    return f"{error.field}: " + re.sub(r"^is \d+ characters", "is too long", error.problem)


def _columns(path: Path, frame: pd.DataFrame, text_cols: str | None, label_col: str | None, mappings: Iterable[str]) -> ColumnMap:
    maps = [*mappings, *([f"category={label_col}"] if label_col else [])]
    try:
        columns = ColumnMap.build(list(frame.columns), text_cols, None, maps, known=TRAINING_FIELDS)
    except BatchError as error:
        raise DataError(f"{path}: {error}".replace("input: ", "")) from None
    if "category" not in columns.fields:
        raise DataError(f"{path}: no column 'category' (use --label-col to name the label column)")
    return columns


def load_export(
    path: Path,
    *,
    text_cols: str | None = None,
    label_col: str | None = None,
    mappings: Iterable[str] = (),
    label_map: dict[str, str | None] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load a desk's labelled export for training, dropping (and counting) the rows it cannot use.

    Args:
        path: CSV, JSON Lines or Parquet with a text column (or several) and a label column.
        text_cols: "subject,description" to join several columns into ``text``; ``text`` when None.
        label_col: the label column; ``category`` when None.
        mappings: "field=column" for ``created_at``, ``intent``, ``family``.
        label_map: the desk's labels -> our categories (see ``read_label_map``).

    Returns:
        The usable rows (``text``, ``category`` and ``created_at`` as UTC, ``intent``, ``family`` when
        present) and the loading part of the data report: rows read, rows dropped by reason, labels
        that matched nothing.

    Raises:
        DataError: the file cannot be read, a named column is missing, or no row is usable.
    """
    path = Path(path)
    raw, unreadable = _read(path)
    if raw.empty and not unreadable:
        raise DataError(f"{path}: no rows")
    columns = _columns(path, raw, text_cols, label_col, mappings) if len(raw.columns) else None
    dropped: Counter[str] = Counter(f"{field}: {problem}" for field, problem in unreadable.values())
    if columns is None:
        raise DataError(f"{path}: none of the {len(unreadable)} row(s) could be read")

    n = len(raw)
    reasons: list[str | None] = [None] * n
    parts = [raw[c].tolist() for c in columns.text]
    texts: list[str | None] = []
    for i, values in enumerate(zip(*parts)):
        try:
            texts.append(parse_text(values[0] if len(values) == 1 else join_text(values)))
        except TicketError as error:
            texts.append(None)
            reasons[i] = _text_problem(error)
    labels = raw[columns.fields["category"]]
    categories, label_reasons = map_labels(labels.tolist(), label_map)
    unknown: Counter[str] = Counter()
    for i, reason in enumerate(label_reasons):
        if reason and reasons[i] is None:
            reasons[i] = reason
            if reason.startswith("category: not one"):
                unknown[str(labels.iat[i]).strip()] += 1
    out = pd.DataFrame({"text": texts, "category": categories})
    if "created_at" in columns.fields:
        stamps: list[Any] = []
        for i, value in enumerate(raw[columns.fields["created_at"]].tolist()):
            try:
                if value is None or is_absent(value):
                    raise TicketError("created_at", "is missing (the time split needs every row's date)")
                stamps.append(parse_timestamp(value, "created_at", None))
            except TicketError as error:
                stamps.append(None)
                reasons[i] = reasons[i] or f"{error.field}: {error.problem}"
        out["created_at"] = pd.to_datetime(pd.Series(stamps, dtype=object), utc=True)
    for name in ("intent", "family"):
        if name in columns.fields:
            values = raw[columns.fields[name]]
            out[name] = values.where(~values.map(is_absent), None).astype(object).map(lambda v: None if v is None else str(v).strip())
    keep = np.array([r is None for r in reasons], dtype=bool)
    dropped.update(r for r in reasons if r is not None)
    frame = out[keep].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{path}: no usable rows ({sum(dropped.values())} dropped: {dict(dropped.most_common(5))})")
    report = {
        "source": str(path),
        "rows_read": n + len(unreadable),
        "rows_dropped": sum(dropped.values()),
        "dropped": dict(dropped.most_common()),
        "unknown_labels": _echo_labels(unknown),
        "columns": {"text": list(columns.text), **columns.fields},
    }
    return frame, report


def _echo_labels(unknown: Counter[str]) -> dict[str, int]:
    """Unknown labels and their counts, for writing a label map; long values are counted, never echoed."""
    shown = {label: n for label, n in unknown.most_common(_MAX_LABELS_ECHOED) if len(label) <= _MAX_LABEL_ECHO}
    rest = sum(unknown.values()) - sum(shown.values())
    if rest:
        shown["(other values, not shown)"] = rest
    return shown


def load_labelled(path: Path) -> pd.DataFrame:
    """Load labelled tickets for evaluation and check the columns and labels, keeping every column.

    Args:
        path: file with at least ``text`` and ``category`` columns.

    Returns:
        The frame, texts stripped.

    Raises:
        DataError: a column is missing, a label is unknown or a text is empty.
    """
    frame = read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    frame["text"] = frame["text"].astype(str).str.strip()
    categories, reasons = map_labels(frame["category"].tolist())
    bad = [i for i, reason in enumerate(reasons) if reason]
    if bad:
        raise DataError(f"{path}: unknown or missing category label in row(s) {bad[:10]}")
    frame["category"] = categories
    empty = frame.index[frame["text"] == ""].tolist()
    if empty:
        raise DataError(f"{path}: empty text in row(s) {empty[:10]}")
    return frame


@dataclass(frozen=True)
class Split:
    """Train, validation and test frames; no group (family or duplicate set) is in two of them."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def assign_groups(
    groups: pd.Series, strata: pd.Series, rng: np.random.Generator, val_share: float, test_share: float, at_least_one: bool
) -> dict[str, str]:
    """Deal whole groups out to test, validation and train, stratum by stratum, in a seeded order.

    Args:
        groups: per row, its group.
        strata: per row, what to spread evenly over the parts (intent or category); a group belongs to
            its most frequent stratum.
        rng: the split's random generator (shared by consecutive calls, so one seed fixes all of them).
        val_share: share of each stratum's groups for validation.
        test_share: share of each stratum's groups for the test split.
        at_least_one: give every stratum at least one test and one validation group (the family
            split's rule; a stratum of one duplicate group is better left to training).

    Returns:
        group -> "train", "val" or "test".
    """
    pairs = pd.DataFrame({"group": groups.to_numpy(), "stratum": strata.to_numpy()})
    counted = pairs.value_counts(sort=False).reset_index(name="n")
    counted = counted.sort_values(["group", "n", "stratum"], ascending=[True, False, True], kind="stable")
    stratum_of = counted.drop_duplicates("group")
    part_of: dict[str, str] = {}
    for _, members in stratum_of.groupby("stratum", sort=True)["group"]:
        names = sorted(members)
        rng.shuffle(names)
        n_test, n_val = round(len(names) * test_share), round(len(names) * val_share)
        if at_least_one:
            n_test, n_val = max(1, n_test), max(1, n_val)
        for i, name in enumerate(names):
            part_of[name] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return part_of


def _newest_groups(groups: pd.Series, created_at: pd.Series, test_share: float) -> tuple[set[str], pd.Timestamp | None]:
    """The groups first seen most recently, holding about ``test_share`` of the rows.

    A group's date is its first ticket's (when the message first arrived); groups with the same date
    are ordered by name (a hash of the text), so ties are broken the same way in any row order.
    """
    table = pd.DataFrame({"group": groups.to_numpy(), "at": created_at.to_numpy()})
    per_group = table.groupby("group").agg(first=("at", "min"), rows=("at", "size")).reset_index()
    per_group = per_group.sort_values(["first", "group"], ascending=False, kind="stable")
    target = test_share * len(table)
    taken = per_group["rows"].cumsum().shift(fill_value=0) < target
    chosen = per_group[taken]
    return set(chosen["group"]), (chosen["first"].min() if len(chosen) else None)


def make_split(
    frame: pd.DataFrame,
    groups: pd.Series,
    seed: int,
    val_share: float = 0.15,
    test_share: float = 0.15,
    apart: np.ndarray | None = None,
) -> tuple[Split, dict[str, Any]]:
    """Split labelled tickets so that no group is in two parts.

    - ``family`` present: by phrasing family, each intent's families spread over the three parts (the
      generated sample's split; ``groups`` are the families, duplicates of family-less rows joined in).
    - else ``created_at`` present: the groups first seen most recently are the test split (what the
      model will face next), the rest split at random for validation.
    - else: a seeded random split by duplicate group, stratified by category.

    Groups holding a row marked in ``apart`` (corrections, sample top-up) are dealt out separately, at
    random in the same shares whatever their dates: training learns from most of them and the test
    split, which the champion gate scores, holds the rest.

    Args:
        frame: ``category`` and, when present, ``intent``, ``family``, ``created_at``.
        groups: per row, its group (aligned with ``frame``).
        seed: the same seed and data give the same split.
        val_share: share for validation (model choice, calibration, thresholds).
        test_share: share for the test split.
        apart: per row, whether its group is dealt out on its own (None: no such rows).

    Returns:
        The split and how it was made (for the data report).
    """
    groups = pd.Series(groups.to_numpy(), index=frame.index)
    rng = np.random.default_rng(seed)
    apart = np.zeros(len(frame), dtype=bool) if apart is None else np.asarray(apart, dtype=bool)
    in_apart = groups.isin(set(groups[apart])).to_numpy()
    data = ~in_apart
    info: dict[str, Any] = {}
    if "family" in frame.columns and frame["family"].notna().any():
        info["method"] = "by phrasing family (family column), stratified by intent" if "intent" in frame.columns else "by phrasing family"
        strata = frame["intent"].fillna(frame["category"]) if "intent" in frame.columns else frame["category"]
        part_of = assign_groups(groups[data], strata[data], rng, val_share, test_share, at_least_one=True)
    elif "created_at" in frame.columns:
        newest, since = _newest_groups(groups[data], frame["created_at"][data], test_share)
        info["method"] = f"by time: test = the newest {test_share:.0%} (first seen from {since.isoformat() if since is not None else '-'}), validation at random from the rest, by duplicate group"
        info["test_from"] = since.isoformat() if since is not None else None
        rest = data & ~groups.isin(newest).to_numpy()
        part_of = {name: "test" for name in newest}
        part_of |= assign_groups(groups[rest], frame["category"][rest], rng, val_share / (1 - test_share), 0.0, at_least_one=False)
    else:
        info["method"] = "at random by duplicate group, stratified by category"
        part_of = assign_groups(groups[data], frame["category"][data], rng, val_share, test_share, at_least_one=False)
    if in_apart.any():
        part_of |= assign_groups(groups[in_apart], frame["category"][in_apart], rng, val_share, test_share, at_least_one=False)
    parts = groups.map(part_of)
    split = Split(train=frame[parts == "train"], val=frame[parts == "val"], test=frame[parts == "test"])
    info["groups"] = int(groups.nunique())
    info["rows"] = {name: len(getattr(split, name)) for name in ("train", "val", "test")}
    info["per_category"] = {
        name: {c: int(n) for c, n in getattr(split, name)["category"].value_counts().reindex(CATEGORIES, fill_value=0).items()}
        for name in ("train", "val", "test")
    }
    return split, info


def split_by_family(frame: pd.DataFrame, seed: int, val_share: float = 0.15, test_share: float = 0.15) -> Split:
    """Split so that no phrasing family is in two parts, spreading every intent's families over all three.

    Args:
        frame: labelled tickets with a ``family`` column (and ``intent``, if present, to stratify by).
        seed: random seed; the same seed gives the same split.
        val_share: share of each intent's families for validation (calibration and thresholds).
        test_share: share of each intent's families for the holdout test.

    Returns:
        The three parts.
    """
    if "family" not in frame.columns:
        raise DataError("split_by_family needs a 'family' column; make_split splits by duplicate group without one")
    return make_split(frame, frame["family"], seed, val_share, test_share)[0]
