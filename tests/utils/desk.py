"""Factories for a help desk's own data: a plain export made from the sample, and a systematic confusion."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from pipeline.data import load_labelled
from tests.conftest import SAMPLE

# The desk's names for our five categories, as a label map would give them.
DESK_LABELS = {"Clinical Question": "clinical", "Scheduling Request": "scheduling", "Billing": "billing",
               "Tech Support": "technical", "Account Change": "account"}  # fmt: skip


def plain_export(path: Path, n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """``n`` sample tickets as a desk would export them: subject and description, its own label names and a
    creation time, no ``family`` or ``intent``.

    Returns:
        The frame written to ``path`` (CSV, JSON Lines or Parquet by extension).
    """
    frame = load_labelled(SAMPLE).sample(n, random_state=seed)
    parts = frame["text"].str.partition("\n")
    ours_to_desk = {v: k for k, v in DESK_LABELS.items()}
    export = pd.DataFrame(
        {
            "Id": [f"D-{i}" for i in range(n)],
            "Subject": parts[0].to_numpy(),
            "Description": parts[2].to_numpy(),
            "Ticket Type": frame["category"].map(ours_to_desk).to_numpy(),
            "Created": frame["created_at"].to_numpy(),
        }
    )
    write_table(export, path)
    return export


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV, JSON Lines or Parquet, chosen by ``path``'s extension."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path


_OPEN = ["Hi,", "Hello,", "Hey there,", "Good morning,", "", "Hi team,"]
_ASK = [
    "I received a {gift} from my {who} and I want to redeem it for my sessions.",
    "how do I apply the {gift} my {who} gave me?",
    "My {who} bought me a {gift} but the code doesn't show up anywhere.",
    "Can I use a {gift} to pay for therapy? It was a present from my {who}.",
    "I'd like to transfer the balance of my {gift} to my {who}'s account.",
    "The {gift} I got from my {who} says it expired, is that right?",
    "where do I enter a {gift} code? my {who} sent it by email",
    "I want to buy a {gift} for my {who}, how does that work?",
]
_GIFT = ["gift card", "gift voucher", "wellness gift card", "prepaid gift code", "e-gift card"]
_WHO = ["sister", "employer", "mom", "partner", "best friend", "company", "aunt", "husband"]
_CLOSE = ["Thanks!", "Thank you", "", "Best, Sam", "cheers", "Regards, J."]


def gift_card_tickets(n: int, seed: int) -> list[str]:
    """Tickets about gift cards: the model files them under billing, this desk handles them as account."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        ask = rng.choice(_ASK).format(gift=rng.choice(_GIFT), who=rng.choice(_WHO))
        out.add(" ".join(part for part in (rng.choice(_OPEN), ask, rng.choice(_CLOSE)) if part))
    return sorted(out)
