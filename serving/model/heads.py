"""The learned routing signals: an intent head on the category model's own features, summed per signal.

The head is a multinomial logistic regression over the training data's intents, fitted on the output
of the category model's fitted feature union, so scoring it costs a few more weight columns in the
products the category model already computes (``TicketClassifier`` stacks both). Its probabilities
are temperature-scaled on validation families; a signal's probability is the sum of its intents'
probabilities, and the signal fires at or above a threshold chosen on those families for a stated
recall. Saved as plain arrays (``numpy.savez``, no pickle) plus JSON in the classifier's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HEAD_FILE = "signal_head.npz"
HEAD_META_FILE = "signal_head.json"


@dataclass
class SignalHead:
    """Intent probabilities summed into named signals, each with its own threshold.

    Attributes:
        intents: the intent labels, one per row of ``coef``.
        coef: (intents x features) weights on the feature union's output, in its column order.
        intercept: one per intent.
        beta: inverse temperature fitted on validation families.
        signals: signal name -> the intents whose probabilities add up to it.
        thresholds: signal name -> the probability at or above which it fires.
        info: how the head was fitted and its thresholds chosen (recall target, validation figures).
    """

    intents: list[str]
    coef: np.ndarray
    intercept: np.ndarray
    beta: float
    signals: dict[str, list[str]]
    thresholds: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names: tuple[str, ...] = tuple(self.signals)
        index = {intent: i for i, intent in enumerate(self.intents)}
        members = np.zeros((len(self.names), len(self.intents)))
        for row, name in enumerate(self.names):
            members[row, [index[i] for i in self.signals[name]]] = 1.0
        # (signals x intents): a signal's probability is a row-wise dot with it, like the logits.
        self.members = members
        self.threshold_vector = np.array([self.thresholds[name] for name in self.names])

    def save(self, folder: Path) -> None:
        """Write the arrays and the JSON beside the classifier's own files."""
        folder = Path(folder)
        np.savez(folder / HEAD_FILE, coef=self.coef, intercept=self.intercept)
        meta = {
            "intents": self.intents, "beta": self.beta, "signals": self.signals,
            "thresholds": self.thresholds, "info": self.info,
        }  # fmt: skip
        (folder / HEAD_META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path) -> "SignalHead | None":
        """Read a head written by ``save``; None for a model saved without one."""
        folder = Path(folder)
        if not (folder / HEAD_META_FILE).exists():
            return None
        meta = json.loads((folder / HEAD_META_FILE).read_text())
        with np.load(folder / HEAD_FILE, allow_pickle=False) as arrays:
            coef, intercept = arrays["coef"], arrays["intercept"]
        return cls(
            intents=meta["intents"], coef=coef, intercept=intercept, beta=float(meta["beta"]),
            signals=meta["signals"], thresholds=meta["thresholds"], info=meta.get("info", {}),
        )  # fmt: skip
