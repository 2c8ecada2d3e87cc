"""The contract's vocabulary: categories, a model's prediction and the routing decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CATEGORIES: tuple[str, ...] = ("clinical", "scheduling", "billing", "technical", "account")
ROUTES: tuple[str, ...] = ("provider", "support_team")
RULE_IDS: tuple[str, ...] = (
    "SAFETY-CRISIS",
    "ESCALATE-48H",
    "TECH-LOCKED-OUT",
    "TECH-SUPPORT",
    "ACCOUNT-SUPPORT",
    "CLIN-URGENT-REFILL",
    "CLIN-END-CARE",
    "CLIN-PROVIDER",
    "SCHED-NO-SHOW",
    "SCHED-RECURRING",
    "SCHED-LT24-EMERGENCY",
    "SCHED-LT24",
    "SCHED-GE24",
    "SCHED-PAST",
    "SCHED-UNKNOWN-TIME",
    "BILL-INSURANCE",
    "BILL-PROVIDER-FIRST",
)


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the classifier says about one ticket.

    Attributes:
        category: the most probable category.
        confidence: calibrated probability of ``category``.
        probabilities: calibrated probability of every category, keyed by name.
        uncertain: True when ``confidence`` is below the model's tuned threshold for ``category``.
        model_version: registered model version that produced it.
        signals: learned routing signals, name -> fired (``serving.rules.signals.SIGNALS`` names, and
            ``"crisis"``: the learned crisis score fired); a name that is absent was not learned, and the
            rules read the text pattern for it instead. Empty for a model without learned signals.

    Fields are in this order (``category, confidence, probabilities, uncertain, model_version,
    signals``); positional callers rely on it, and ``signals`` is last so that older callers that
    pass five fields still work.
    """

    category: str
    confidence: float
    probabilities: dict[str, float]
    uncertain: bool
    model_version: str
    signals: dict[str, bool] = field(default_factory=dict)


@dataclass(slots=True)
class Decision:
    """The contract's output for one ticket (CONTRACT.md section 2).

    Not frozen: one is built per ticket, and a frozen dataclass's ``__init__`` sets each of the
    13 fields through ``object.__setattr__`` (about 1 us per decision); nothing mutates or
    hashes decisions. ``serving.rules.routing.decide`` passes the fields positionally (13 keyword
    arguments cost about 1 us more on CPython 3.11), so keep this field order or update it there.
    """

    ticket_id: str | None
    category: str
    confidence: float
    probabilities: dict[str, float]
    route: str
    rule_id: str
    reason: str
    needs_review: bool
    safety_flag: bool
    hours_until_appointment: float | None
    appointment_source: str | None
    hours_awaiting_provider: float | None
    model_version: str

    def to_dict(self) -> dict[str, Any]:
        """The decision as the API's JSON object."""
        # Not dataclasses.asdict: its recursive deep copy was a third of batch scoring time.
        row = {name: getattr(self, name) for name in self.__slots__}
        row["probabilities"] = dict(self.probabilities)
        return row

    def to_row(self) -> dict[str, Any]:
        """The decision as a flat batch row, probabilities as ``p_<category>`` columns."""
        probabilities = self.probabilities
        return {
            name: probabilities[name[2:]] if name.startswith("p_") else getattr(self, name)
            for name in DECISION_COLUMNS
        }


# The flat decision columns of batch output, the pyfunc and Spark, with their types (MLflow's names):
# the one list from which DECISION_COLUMNS, the pyfunc signature and the Arrow/Spark schemas come.
DECISION_TYPES: dict[str, str] = {
    "ticket_id": "string",
    "category": "string",
    "confidence": "double",
    **{f"p_{c}": "double" for c in CATEGORIES},
    "route": "string",
    "rule_id": "string",
    "reason": "string",
    "needs_review": "boolean",
    "safety_flag": "boolean",
    "hours_until_appointment": "double",
    "appointment_source": "string",
    "hours_awaiting_provider": "double",
    "model_version": "string",
}
DECISION_COLUMNS: tuple[str, ...] = tuple(DECISION_TYPES)
