"""Training data: load and check it, fingerprint it, split it by phrasing family."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from serving.batch.io import BatchFileError
from serving.batch.io import read_table as read_file
from serving.decision import CATEGORIES

REQUIRED_COLUMNS: tuple[str, ...] = ("text", "category")


class DataError(ValueError):
    """The training or evaluation file cannot be used; the message says why."""


def read_table(path: Path) -> pd.DataFrame:
    """Read a labelled CSV, JSON Lines or Parquet file with the batch reader (one reader for every input).

    Raises:
        DataError: the file is missing, has an unknown extension, or has rows that cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        frame, bad = read_file(path)
    except BatchFileError as error:
        raise DataError(f"{path}: {error}") from None
    if bad:
        rows = ", ".join(f"row {row} ({field}: {problem})" for row, (field, problem) in sorted(bad.items())[:10])
        raise DataError(f"{path}: {len(bad)} unreadable row(s): {rows}")
    return frame


def load_labelled(path: Path) -> pd.DataFrame:
    """Load labelled tickets and check the columns and labels.

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
    unknown = sorted(set(frame["category"]) - set(CATEGORIES))
    if unknown:
        raise DataError(f"{path}: unknown category label(s) {unknown}")
    empty = frame.index[frame["text"] == ""].tolist()
    if empty:
        raise DataError(f"{path}: empty text in row(s) {empty[:10]}")
    return frame


@dataclass(frozen=True)
class Split:
    """Train, validation and test frames with disjoint phrasing families."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


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
        raise DataError("training data needs a 'family' column to split by phrasing")
    rng = np.random.default_rng(seed)
    strata = frame["intent"] if "intent" in frame.columns else frame["category"]
    part_of: dict[str, str] = {}
    for _, families in frame.groupby(strata.values)["family"]:
        names = sorted(families.unique())
        rng.shuffle(names)
        n_test = max(1, round(len(names) * test_share))
        n_val = max(1, round(len(names) * val_share))
        for i, name in enumerate(names):
            part_of[name] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    parts = frame["family"].map(part_of)
    return Split(train=frame[parts == "train"], val=frame[parts == "val"], test=frame[parts == "test"])
