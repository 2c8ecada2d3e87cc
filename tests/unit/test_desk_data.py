"""A desk's own export: column and label mapping, dropped rows, duplicate groups, splits that never leak copies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.data import DataError, load_export, make_split, read_label_map
from pipeline.dedup import group_duplicates, normalize_text
from serving.decision import CATEGORIES
from serving.tickets import NOT_UNICODE
from tests.utils.desk import write_table

WORDS = {
    "billing": "charged invoice refund receipt card payment copay fee statement balance",
    "scheduling": "reschedule cancel appointment session tomorrow monday slot calendar book time",
    "technical": "app crash login video audio camera error browser update screen",
    "account": "email address name profile password settings phone notifications delete merge",
    "clinical": "medication dose therapist anxiety sleep prescription side effects treatment plan",
}


def ticket(category: str, i: int) -> str:
    """A distinct ticket of a category (no two share five words in a row)."""
    words = WORDS[category].split()
    rng = np.random.default_rng(i)
    return f"ticket {i}: " + " ".join(rng.choice(words, size=12)) + f" ref{'xyz'[i % 3]}{i * 7919 % 1000}"


def test_normalize_text_ignores_case_spacing_punctuation_and_digits():
    assert normalize_text("Hi!  I was CHARGED $40 on 3/4.") == normalize_text("hi i was charged 25 on 12 9")
    assert normalize_text("Ｆｕｌｌ width") == "full width"
    assert normalize_text("cancel") != normalize_text("cancelled")


def test_exact_and_near_copies_are_grouped_and_others_are_not():
    base = "Hello, I need to cancel my session tomorrow at 3pm because my daughter is sick."
    texts = [
        base,
        base.upper(),  # exact after normalisation
        "Hello I need to cancel my session tomorrow at 4 pm because my daughter is sick!!",  # exact: digits, spacing
        "Hello, I need to cancel my session tomorrow at 3pm because my daughter is sick. Thanks, Ana",  # near
        "My card was charged twice for the same session, please refund one.",
        "The video froze twice during my session and the app logged me out.",
    ]
    groups = group_duplicates(texts)
    assert len(set(groups.group[:4])) == 1
    assert len(set(groups.group)) == 3
    assert groups.exact_groups == 1 and groups.near_groups == 1 and groups.rows_in_groups == 4 and groups.largest == 4
    # Names depend on the texts, not their order.
    again = group_duplicates(texts[::-1])
    assert list(again.group[::-1]) == list(groups.group)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_load_export_maps_columns_and_labels_and_counts_what_it_drops(tmp_path, suffix):
    desk = {"Billing inquiry": "billing", "Tech Issue": "technical", "Spam": None}
    label_map = tmp_path / "labels.json"
    label_map.write_text(json.dumps(desk))
    frame = pd.DataFrame(
        {
            "Subject": ["Charged twice", "App crashes", "", "Hello", "Reset", "Buy now", "Old", "Long"],
            "Description": ["Please refund one.", "Every time I log in.", "  ", "When is my session?", "Email?", "cheap", "x", "y" * 20_001],
            "Ticket Type": ["Billing inquiry", "Tech Issue", "Tech Issue", "Scheduling", "Weird type", "Spam", "ACCOUNT", "account"],
            "Opened": ["2026-01-02T10:00:00Z", "2026-01-03 09:00", "2026-01-04T00:00:00", "2026-01-05T00:00:00+02:00",
                       "2026-01-06", "2026-01-07", "not a date", "2026-01-08"],
            "Other": range(8),
        }
    )  # fmt: skip
    path = write_table(frame, tmp_path / f"export{suffix}")
    rows, report = load_export(
        path, text_cols="Subject,Description", label_col="Ticket Type", mappings=["created_at=Opened"],
        label_map=read_label_map(label_map),
    )  # fmt: skip
    assert rows["category"].tolist() == ["billing", "technical", "scheduling"]
    assert rows["text"].tolist()[0] == "Charged twice\n\nPlease refund one."
    assert list(rows.columns) == ["text", "category", "created_at"]
    assert str(rows["created_at"].dt.tz) == "UTC" and rows["created_at"].iloc[2] == pd.Timestamp("2026-01-04T22:00:00Z")
    assert report["rows_read"] == 8 and report["rows_dropped"] == 5
    assert report["dropped"] == {
        "text: is required": 1,
        "category: not one of our categories and not in the label map": 1,
        "category: left out by the label map": 1,
        "created_at: not a valid timestamp; expected an ISO 8601 timestamp such as 2024-03-09T14:30:00-05:00": 1,
        "text: is too long after trimming; at most 20000 allowed": 1,
    }
    assert report["unknown_labels"] == {"Weird type": 1}


def test_unreadable_rows_are_dropped_and_reported_not_fatal(tmp_path):
    path = tmp_path / "export.jsonl"
    good = [json.dumps({"text": f"my card was charged {i}", "category": "billing"}) for i in range(3)]
    path.write_bytes(("\n".join([good[0], "{not json", good[1], '{"text": "bad \\udc80", "category": "billing"}']) + "\n").encode()
                     + b'{"text": "caf\xe9", "category": "billing"}\n' + good[2].encode() + b"\n")  # fmt: skip
    rows, report = load_export(path)
    assert len(rows) == 3 and report["rows_read"] == 6
    assert report["dropped"] == {
        "row: is not a JSON object": 1,
        f"text: {NOT_UNICODE}": 1,
        "text: contains bytes that are not valid UTF-8": 1,
    }


def test_named_columns_must_exist_and_label_maps_must_name_our_categories(tmp_path):
    path = write_table(pd.DataFrame({"body": ["a"], "type": ["billing"]}), tmp_path / "x.csv")
    with pytest.raises(DataError, match="--text-col"):
        load_export(path, label_col="type")
    with pytest.raises(DataError, match="label-col"):
        load_export(path, text_cols="body")
    bad = write_table(pd.DataFrame({"desk": ["Bills"], "ours": ["money"]}), tmp_path / "map.csv")
    with pytest.raises(DataError, match="'Bills' maps to 'money'"):
        read_label_map(bad)
    two_column = write_table(pd.DataFrame({"desk": ["Bills", "Junk"], "ours": ["billing", ""]}), tmp_path / "map2.csv")
    assert read_label_map(two_column) == {"Bills": "billing", "Junk": None}


def desk_frame(n_per_category: int = 40, copies: int = 3) -> pd.DataFrame:
    """Distinct tickets per category, the first ten of each resent ``copies`` times with small edits."""
    rows = []
    for category in CATEGORIES:
        for i in range(n_per_category):
            text = ticket(category, i + 1000 * CATEGORIES.index(category))
            rows.append({"text": text, "category": category})
            for k in range(copies if i < 10 else 0):
                rows.append({"text": ("RE: " if k % 2 else "") + text.upper() + ("  thanks!" if k else ""), "category": category})
    return pd.DataFrame(rows)


def parts_of(split) -> dict[str, str]:
    return {**{t: "train" for t in split.train.index}, **{t: "val" for t in split.val.index}, **{t: "test" for t in split.test.index}}


def test_duplicates_never_straddle_the_split():
    frame = desk_frame()
    duplicates = group_duplicates(frame["text"].tolist())
    assert duplicates.exact_groups + duplicates.near_groups >= 50
    for seed in range(5):
        split, info = make_split(frame, pd.Series(duplicates.group), seed)
        part = pd.Series(parts_of(split)).sort_index()
        assert len(part) == len(frame)
        assert (pd.DataFrame({"g": duplicates.group, "p": part.to_numpy()}).groupby("g")["p"].nunique() == 1).all()
        assert info["method"].startswith("at random by duplicate group")
        assert all(n > 0 for n in info["per_category"]["test"].values())


def test_time_split_holds_out_the_newest_and_breaks_ties_the_same_way_in_any_order():
    frame = desk_frame(copies=0)
    frame["created_at"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(frame)) // 4, unit="D")
    duplicates = group_duplicates(frame["text"].tolist())
    split, info = make_split(frame, pd.Series(duplicates.group), seed=1)
    assert split.test["created_at"].min() >= split.train["created_at"].max()
    assert split.test["created_at"].min() >= split.val["created_at"].max()
    assert len(split.test) == pytest.approx(0.15 * len(frame), abs=1)
    assert info["test_from"] == split.test["created_at"].min().isoformat()
    # Four tickets per day: the boundary day is shared, and the same tickets win it whatever the row order.
    shuffled = frame.sample(frac=1.0, random_state=3)
    again, _ = make_split(shuffled, pd.Series(group_duplicates(shuffled["text"].tolist()).group), seed=1)
    assert set(again.test["text"]) == set(split.test["text"])


def test_time_split_keeps_a_resent_message_with_its_first_copy():
    frame = desk_frame(copies=0)
    frame["created_at"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(frame)), unit="h")
    resend = frame.iloc[[0]].assign(created_at=frame["created_at"].max() + pd.Timedelta(hours=1))  # oldest text, sent again last
    frame = pd.concat([frame, resend], ignore_index=True)
    split, _ = make_split(frame, pd.Series(group_duplicates(frame["text"].tolist()).group), seed=0)
    assert frame["text"].iloc[0] not in set(split.test["text"])


def test_groups_marked_apart_are_spread_over_all_parts_whatever_their_dates():
    frame = desk_frame(copies=0)
    frame["created_at"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(frame)), unit="h")
    apart = np.zeros(len(frame), dtype=bool)
    apart[frame.index[frame["category"] == "billing"][:40]] = True  # e.g. corrections: all of them old
    split, _ = make_split(frame, pd.Series(group_duplicates(frame["text"].tolist()).group), seed=0, apart=apart)
    counts = {name: int(apart[getattr(split, name).index].sum()) for name in ("train", "val", "test")}
    assert counts == {"train": 28, "val": 6, "test": 6}
