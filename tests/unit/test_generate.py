"""The sample generator: determinism, schema, realistic proportions and the committed sample."""

import string

import pandas as pd
import pytest

from pipeline.generate import COLUMNS, generate_tickets, write_tickets
from pipeline.phrasebank import BY_CATEGORY
from serving.decision import CATEGORIES
from serving.settings import PROJ_ROOT

SLOTS = {"provider", "when", "waited", "amount", "med", "insurer", "app"}


def test_same_seed_same_tickets_other_seed_other_tickets():
    assert generate_tickets(300, seed=7) == generate_tickets(300, seed=7)
    assert generate_tickets(300, seed=7) != generate_tickets(300, seed=8)


def test_schema_and_labels():
    rows = generate_tickets(2000, seed=1)
    frame = pd.DataFrame(rows)
    assert list(frame.columns) == list(COLUMNS)
    assert set(frame["category"]) == set(CATEGORIES)
    assert frame["ticket_id"].is_unique
    assert (frame["text"].str.strip() != "").all()
    for row in rows[:200]:
        assert row["intent"] in BY_CATEGORY[row["category"]]
        assert row["family"].startswith(row["intent"] + "/")


def test_timing_fields_present_in_realistic_proportions():
    frame = pd.DataFrame(generate_tickets(3000, seed=2))
    share = (frame[["appointment_at", "awaiting_provider_since", "emergency", "timezone"]] != "").mean()
    assert 0.05 < share["appointment_at"] < 0.4
    assert 0.02 < share["awaiting_provider_since"] < 0.2
    assert 0.005 < share["emergency"] < 0.1
    assert 0.5 < share["timezone"] < 0.9
    timed = frame["text"].str.contains(r"\b(?:tomorrow|tonight|today|Monday|Thursday|Friday)\b", case=False)
    assert timed.mean() > 0.05


def test_lengths_range_from_a_few_words_to_long_emails():
    words = pd.Series([len(r["text"].split()) for r in generate_tickets(3000, seed=3)])
    assert words.min() <= 6
    assert words.quantile(0.99) >= 80


def test_phrasebank_is_well_formed():
    for category, intents in BY_CATEGORY.items():
        for intent, phrasings in intents.items():
            assert len(phrasings) >= 30, (category, intent)
            assert len(set(phrasings)) == len(phrasings), (category, intent)
            for phrasing in phrasings:
                names = {f for _, f, _, _ in string.Formatter().parse(phrasing) if f}
                assert names <= SLOTS, (intent, names - SLOTS)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_write_each_format(tmp_path, suffix):
    path = write_tickets(tmp_path / f"t{suffix}", 50, seed=4)
    frame = {".csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False),
             ".jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
             ".parquet": pd.read_parquet}[suffix](path)
    assert len(frame) == 50 and list(frame.columns) == list(COLUMNS)


def test_committed_sample_is_the_generator_output(tmp_path):
    """data/sample/tickets.csv is exactly `triage generate --n 6000 --seed 0`."""
    regenerated = write_tickets(tmp_path / "t.csv", 6000, seed=0)
    assert regenerated.read_bytes() == (PROJ_ROOT / "data" / "sample" / "tickets.csv").read_bytes()
