"""What a training run learns from: the desk's export, the sample's top-up and the agents' corrections.

``prepare_dataset`` loads the export (``pipeline.data.load_export``), refuses a category with too few
rows or tops it up from the bundled sample, lays the stored corrections over it, groups duplicates
(``pipeline.dedup``), splits (``pipeline.data.make_split``) and writes the data report.

Corrections are the desk's own truth:

- a correction overrides the label of every row with the same normalised text (the newest correction
  of a text wins); a correction whose text is not in the data is added as a row;
- the groups holding corrections are dealt out over train, validation and test at random, so the
  test split that the champion gate scores always holds its share of them with their corrected labels;
- ``use_feedback=False`` keeps corrections out of training and validation only, so a model that
  ignores them is still judged on them and cannot take the alias from one that learned them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.data import SAMPLE_PATH, DataError, Split, load_export, make_split, read_label_map
from pipeline.dedup import group_duplicates, normalize_text, normalize_texts
from serving.decision import CATEGORIES
from serving.feedback.store import EXPORT_COLUMNS, open_store, store_exists
from serving.settings import Settings

MIN_PER_CATEGORY = 20


@dataclass(frozen=True)
class Dataset:
    """The split a run trains on and the data report that describes it."""

    split: Split
    report: dict[str, Any]

    def text(self) -> str:
        """The data report as printed by ``triage train``."""
        return format_report(self.report)


def load_corrections(settings: Settings) -> pd.DataFrame:
    """The stored corrections, after applying the retention period (nothing when no store exists yet).

    Returns:
        One row per correction, ``EXPORT_COLUMNS``, oldest first.
    """
    if not store_exists(settings.database_url):
        return pd.DataFrame(columns=list(EXPORT_COLUMNS))
    store = open_store(settings.database_url, settings.feedback_retention_days)
    try:
        rows = store.rows()
    finally:
        store.close()
    return pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))


def _newest_per_text(corrections: pd.DataFrame) -> pd.DataFrame:
    """One correction per normalised text: the last one received."""
    if corrections.empty:
        return corrections.assign(normalized=pd.Series(dtype=object))
    latest = corrections.assign(normalized=[normalize_text(t) for t in corrections["text"]])
    return latest.drop_duplicates("normalized", keep="last").reset_index(drop=True)


def _top_up(counts: dict[str, int], minimum: int, seed: int, columns: list[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Sample tickets for every category under ``minimum``: up to the desk's median category, at least ``minimum``."""
    sample, _ = load_export(SAMPLE_PATH)
    enough = [n for n in counts.values() if n >= minimum]
    target = max(minimum, int(np.median(enough))) if enough else minimum
    rng = np.random.default_rng(seed)
    picked, added = [], {}
    for category in CATEGORIES:
        if counts.get(category, 0) >= minimum:
            continue
        rows = sample[sample["category"] == category]
        want = min(len(rows), target - counts.get(category, 0))
        picked.append(rows.iloc[np.sort(rng.permutation(len(rows))[:want])])
        added[category] = want
    topped = pd.concat(picked, ignore_index=True)
    # Sample rows keep their phrasing family for grouping; other fields only if the desk's file has them.
    return topped[[c for c in topped.columns if c in columns or c == "family"]], added


def _groups(duplicate_group: np.ndarray, family: pd.Series | None) -> pd.Series:
    """The split's groups: phrasing families where known, duplicate groups elsewhere, joined where they meet.

    Rows without a family (corrections, a desk's rows beside the sample's) take the family of a near copy,
    so a correction of a sample text lands in that text's family; with families everywhere the groups are
    exactly the families (the sample's split is unchanged).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    duplicate_group = pd.Series(duplicate_group)
    if family is None or family.isna().all():
        return duplicate_group
    family = family.reset_index(drop=True)
    if family.notna().all():
        return family
    n = len(family)
    fam_codes, _ = pd.factorize(family)
    dup_codes, _ = pd.factorize(duplicate_group)
    linking = np.isin(dup_codes, np.unique(dup_codes[family.isna().to_numpy()]))
    rows = np.arange(n)
    has_family = fam_codes >= 0
    left = np.concatenate([rows[has_family], rows[linking]])
    right = np.concatenate([n + fam_codes[has_family], n + fam_codes.max() + 1 + dup_codes[linking]])
    size = n + fam_codes.max() + 1 + dup_codes.max() + 1
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    table = pd.DataFrame({"component": component[:n], "family": family, "dup": duplicate_group})
    by_component = table.groupby("component")
    name = by_component["family"].transform("min").fillna(by_component["dup"].transform("min"))
    return name


@dataclass(frozen=True)
class DataOptions:
    """How to read the desk's export and what to combine it with (``triage train`` flags).

    Attributes:
        text_cols: "subject,description": columns joined into the text; ``text`` when None.
        label_col: the label column, when not ``category``.
        mappings: "field=column" for ``created_at``, ``intent``, ``family``.
        label_map: file mapping the desk's labels to our categories (JSON object or two-column table).
        use_feedback: train on the stored corrections (they are in the test split either way).
        with_sample: top up categories under ``min_per_category`` rows from the bundled sample.
        min_per_category: fewest rows a category may have.
    """

    text_cols: str | None = None
    label_col: str | None = None
    mappings: tuple[str, ...] = ()
    label_map: Path | None = None
    use_feedback: bool = True
    with_sample: bool = False
    min_per_category: int = MIN_PER_CATEGORY


def prepare_dataset(settings: Settings, data_path: Path, options: DataOptions = DataOptions()) -> Dataset:
    """Load, check, combine, group and split the training data, and describe it.

    Args:
        settings: the seed and the corrections database.
        data_path: the desk's labelled export (CSV, JSON Lines, Parquet).
        options: column and label mapping, corrections and sample top-up.

    Returns:
        The split and the data report.

    Raises:
        DataError: the file cannot be used, or a category has too few rows and ``with_sample`` is off.
    """
    label_map = read_label_map(options.label_map) if options.label_map else None
    own, report = load_export(
        data_path, text_cols=options.text_cols, label_col=options.label_col, mappings=options.mappings, label_map=label_map
    )
    use_feedback, min_per_category = options.use_feedback, options.min_per_category
    columns = list(own.columns)
    stored = load_corrections(settings)
    corrections = _newest_per_text(stored)
    own_normalized = normalize_texts(own["text"].tolist()).tolist()

    # What training would see of each category: the desk's rows, with corrected labels and added corrections.
    label_of = dict(zip(corrections["normalized"], corrections["category"]))
    effective = [label_of.get(t, c) for t, c in zip(own_normalized, own["category"])] if use_feedback else own["category"].tolist()
    counts = pd.Series(effective, dtype=object).value_counts().reindex(CATEGORIES, fill_value=0)
    if use_feedback:
        known = set(own_normalized)
        new = corrections[~corrections["normalized"].isin(known)]
        counts = counts.add(new["category"].value_counts().reindex(CATEGORIES, fill_value=0))
    short = {c: int(n) for c, n in counts.items() if n < min_per_category}
    added: dict[str, int] = {}
    frame = own.assign(source="data")
    normalized = own_normalized
    if short and not options.with_sample:
        listed = ", ".join(f"{c} has {n}" for c, n in short.items())
        raise DataError(
            f"{data_path}: too few rows per category ({listed}; at least {min_per_category} needed, --min-per-category): "
            "add labelled tickets, or pass --with-sample to top these categories up from the bundled sample"
        )
    if short:
        sample, added = _top_up({c: int(n) for c, n in counts.items()}, min_per_category, settings.seed, columns)
        frame = pd.concat([frame, sample.assign(source="sample")], ignore_index=True)
        normalized = own_normalized + normalize_texts(sample["text"].tolist()).tolist()

    # Lay the corrections over the data: same normalised text -> the correction's label; the rest are new rows.
    frame["original_category"] = frame["category"]
    corrected = np.zeros(len(frame), dtype=bool)
    overrides = 0
    if not corrections.empty:
        by_text = corrections.set_index("normalized")
        hit = pd.Series(normalized).isin(by_text.index).to_numpy()
        corrected = hit.copy()
        new_labels = by_text["category"].reindex(np.asarray(normalized, dtype=object)[hit]).to_numpy()
        overrides = int((frame.loc[hit, "category"].to_numpy() != new_labels).sum())
        frame.loc[hit, "category"] = new_labels
        if "intent" in frame.columns:
            intents = by_text["intent"].reindex(np.asarray(normalized, dtype=object)[hit]).to_numpy()
            frame.loc[hit, "intent"] = np.where(pd.isna(intents), frame.loc[hit, "intent"].to_numpy(), intents)
        new = corrections[~corrections["normalized"].isin(set(normalized))]
        rows = pd.DataFrame({"text": new["text"].to_numpy(), "category": new["category"].to_numpy(), "source": "feedback"})
        if "created_at" in columns:
            rows["created_at"] = pd.to_datetime(new["created_at"].fillna(new["received_at"]), utc=True).to_numpy()
        if "intent" in columns:
            rows["intent"] = new["intent"].to_numpy()
        frame = pd.concat([frame, rows], ignore_index=True)
        normalized = normalized + new["normalized"].tolist()
        corrected = np.concatenate([corrected, np.ones(len(rows), dtype=bool)])
    frame["corrected"] = corrected

    duplicates = group_duplicates(frame["text"].tolist(), normalized=normalized)
    family = frame["family"] if "family" in frame.columns else None
    groups = _groups(duplicates.group, family)
    if "family" not in columns:
        frame = frame.drop(columns=["family"], errors="ignore")
    apart = corrected | (frame["source"] != "data").to_numpy()
    split, split_info = make_split(frame, groups, settings.seed, apart=apart)
    if not use_feedback:
        # Out of training and validation, still in the test split with the desk's labels.
        split = Split(train=_without_feedback(split.train), val=_without_feedback(split.val), test=split.test)
        split_info["rows"] |= {"train": len(split.train), "val": len(split.val)}

    report["rows_used"] = len(frame)
    report["rows_by_source"] = {s: int((frame["source"] == s).sum()) for s in ("data", "sample", "feedback")}
    report["per_category"] = _per_category(frame)
    report["duplicates"] = duplicates.report()
    report["sample_top_up"] = added
    report["feedback"] = {
        "stored": int(len(stored)),
        "distinct_texts": int(len(corrections)),
        "used_for_training": use_feedback,
        "labels_overridden": overrides,
        "rows_added": int((frame["source"] == "feedback").sum()),
        "per_category": _per_category(frame[frame["corrected"]]),
        "in_test": int(split.test["corrected"].sum()),
        # What the model learned from: corrected rows in train and validation (none with --no-feedback).
        "trained_per_category": _per_category(pd.concat([split.train, split.val]).query("corrected") if use_feedback else frame.iloc[:0]),
    }
    report["split"] = split_info
    report["min_per_category"] = min_per_category
    return Dataset(split=split, report=report)


def _per_category(part: pd.DataFrame) -> dict[str, int]:
    return {c: int(n) for c, n in part["category"].value_counts().reindex(CATEGORIES, fill_value=0).items()}


def _without_feedback(part: pd.DataFrame) -> pd.DataFrame:
    """A train or validation part as it was before the corrections: added rows out, labels restored."""
    kept = part[part["source"] != "feedback"].copy()
    kept["category"] = kept["original_category"]
    return kept


def format_report(report: dict[str, Any]) -> str:
    """The data report as aligned lines of text (no ticket text in it, only counts and column names)."""
    lines = [f"data report: {report['source']}"]
    sources = report["rows_by_source"]
    lines.append(f"  rows read        {report['rows_read']:>9,}")
    lines.append(f"  rows dropped     {report['rows_dropped']:>9,}")
    for reason, n in report["dropped"].items():
        lines.append(f"    {n:>9,}  {reason}")
    if report.get("unknown_labels"):
        labels = ", ".join(f"{label!r} {n:,}" for label, n in report["unknown_labels"].items())
        lines.append(f"    labels matching no category (map them with --label-map): {labels}")
    lines.append(
        f"  rows used        {report['rows_used']:>9,}  (own {sources['data']:,}, sample top-up {sources['sample']:,}, "
        f"corrections added {sources['feedback']:,})"
    )
    lines.append("  per category     " + " | ".join(f"{c} {n:,}" for c, n in report["per_category"].items()))
    if report["sample_top_up"]:
        lines.append("  sample top-up    " + ", ".join(f"{c} +{n:,}" for c, n in report["sample_top_up"].items()))
    d = report["duplicates"]
    lines.append(
        f"  duplicates       {d['exact_groups']:,} exact groups, {d['near_groups']:,} near-duplicate groups, "
        f"{d['rows_in_duplicate_groups']:,} rows in groups, largest {d['largest_group']:,}"
    )
    f = report["feedback"]
    if f["stored"]:
        use = "trained on" if f["used_for_training"] else "not trained on (--no-feedback), still in the test split"
        lines.append(
            f"  corrections      {f['stored']:,} stored: {f['labels_overridden']:,} labels overridden, {f['rows_added']:,} rows added, "
            f"{f['in_test']:,} in the test split; {use}"
        )
        lines.append("    per category   " + " | ".join(f"{c} {n:,}" for c, n in f["per_category"].items()))
    else:
        lines.append("  corrections      none stored")
    s = report["split"]
    lines.append(f"  split            {s['method']}")
    lines.append(f"                   train {s['rows']['train']:,} | validation {s['rows']['val']:,} | test {s['rows']['test']:,} ({s['groups']:,} groups)")
    return "\n".join(lines)
