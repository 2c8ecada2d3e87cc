"""Request and response bodies of the HTTP API (CONTRACT.md sections 1 and 2).

Request fields use permissive JSON types and carry no constraints of their own: ``parse_ticket``
is the one validator, so the API, the CLI and batch scoring reject a bad ticket with the same words.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from serving.decision import CATEGORIES, ROUTES, RULE_IDS, Prediction
from serving.rules.routing import decide
from serving.tickets import EXAMPLE_TICKET, parse_ticket

EXAMPLE_PROBABILITIES = {"clinical": 0.03, "scheduling": 0.91, "billing": 0.02, "technical": 0.02, "account": 0.02}
# The example answer is what the routing rules decide for the example ticket, so the two always agree.
EXAMPLE_DECISION: dict[str, Any] = decide(
    parse_ticket(EXAMPLE_TICKET),
    Prediction("scheduling", EXAMPLE_PROBABILITIES["scheduling"], EXAMPLE_PROBABILITIES, False, "3"),
).to_dict()


def _json(*types: str) -> WithJsonSchema:
    """The documented JSON type of a field whose value pydantic must not judge."""
    return WithJsonSchema({"anyOf": [{"type": t} for t in (*types, "null")]})


class TicketIn(BaseModel):
    """One ticket. Only ``text`` is required; ``parse_ticket`` checks every field.

    The fields take any JSON value (the schema documents the expected types): pydantic judging
    them first would answer a wrongly typed field differently from batch scoring, which hands the
    same values to ``parse_ticket``.
    """

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [EXAMPLE_TICKET]})

    ticket_id: Annotated[Any, _json("string", "integer")] = Field(default=None, description="Caller's id, echoed back.")
    text: Annotated[Any, _json("string")] = Field(
        default=None, description="Required. What the client wrote; 1..20 000 characters after trimming."
    )
    created_at: Annotated[Any, _json("string")] = Field(
        default=None, description="ISO 8601 timestamp of the request; now when absent. The clock for every timing rule."
    )
    appointment_at: Annotated[Any, _json("string")] = Field(default=None, description="ISO 8601 start of the appointment concerned.")
    awaiting_provider_since: Annotated[Any, _json("string")] = Field(
        default=None, description="ISO 8601 time the client messaged the provider without a reply since."
    )
    emergency: Annotated[Any, _json("boolean", "string")] = Field(
        default=None, description="The client reports a medical or family emergency (true/false, yes/no, 1/0)."
    )
    timezone: Annotated[Any, _json("string")] = Field(
        default=None, description="IANA zone of the client (default UTC), for times in the text and naive timestamps."
    )


# Batch items are handed to ``parse_ticket`` as raw JSON so one malformed item (a number, a list,
# a wrongly typed field) becomes that item's error instead of failing the whole request.
RawTicket = Annotated[Any, WithJsonSchema(TicketIn.model_json_schema(), mode="validation")]


class BatchIn(BaseModel):
    """Several tickets scored together; the answer keeps their order."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"tickets": [EXAMPLE_TICKET, {"text": "How do I change my email address?"}]}]})

    tickets: list[RawTicket] = Field(description="The tickets; at most TRIAGE_MAX_BATCH_ITEMS (1000 by default).")


class Probabilities(BaseModel):
    """Calibrated probability of every category."""

    clinical: float
    scheduling: float
    billing: float
    technical: float
    account: float


class DecisionOut(BaseModel):
    """The routing decision for one ticket (CONTRACT.md section 2)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_DECISION]})

    ticket_id: str | None
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: Probabilities
    route: Literal[ROUTES]  # type: ignore[valid-type]
    rule_id: Literal[RULE_IDS]  # type: ignore[valid-type]
    reason: str
    needs_review: bool
    safety_flag: bool
    hours_until_appointment: float | None
    appointment_source: Literal["field", "text"] | None
    hours_awaiting_provider: float | None
    model_version: str


class FieldError(BaseModel):
    """One problem with the request: the field and what is wrong, never the value."""

    field: str
    problem: str


class ErrorOut(BaseModel):
    """Error body of every non-2xx answer."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "text: is required", "errors": [{"field": "text", "problem": "is required"}]}]}
    )

    detail: str
    errors: list[FieldError] = Field(default_factory=list)


class ItemError(BaseModel):
    """A rejected batch item: its position, id when given, and why."""

    index: int
    ticket_id: str | None = None
    field: str
    problem: str


class BatchOut(BaseModel):
    """One result per input ticket, in input order: a decision or an ``ItemError``."""

    results: list[DecisionOut | ItemError]
    n_scored: int
    n_rejected: int


class HealthOut(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    """Readiness: a model is loaded and requests can be scored."""

    status: Literal["ready"] = "ready"
    model_version: str


class ModelOut(BaseModel):
    """The model being served."""

    model_config = ConfigDict(protected_namespaces=())

    version: str = Field(description="The registered version that produces the decisions (model_version).")
    registry_version: str | None = Field(
        default=None, description="The registry version the alias pointed at when loaded; null for a fixed URI."
    )
    uri: str
    loaded_at: str = Field(description="When this server loaded it (UTC, ISO 8601).")
    trained_at: str | None = None
    run_id: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class ReloadOut(BaseModel):
    """Result of a reload request."""

    reloaded: bool
    previous_version: str | None
    version: str | None
    detail: str


EXAMPLE_FEEDBACK: dict[str, str] = {
    "ticket_id": "T-1001",
    "text": EXAMPLE_TICKET["text"],
    "category": "scheduling",
    "route": "support_team",
    "rule_id": "SCHED-LT24-EMERGENCY",
    "agent": "agent-17",
    "created_at": EXAMPLE_TICKET["created_at"],
}


class FeedbackIn(BaseModel):
    """An agent's correction. ``ticket_id``, ``text`` and ``category`` are required; ``parse_correction`` checks every field."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [EXAMPLE_FEEDBACK]})

    ticket_id: str | int | None = Field(default=None, description="Required. The desk's id of the ticket.")
    text: str | None = Field(default=None, description="Required. The ticket text the decision was made on; 1..20 000 characters.")
    category: str | None = Field(default=None, description=f"Required. The right category: {', '.join(CATEGORIES)}.")
    intent: str | None = Field(default=None, description="The right intent, when known (at most 100 characters).")
    route: str | None = Field(default=None, description=f"The right route, when it differs: {', '.join(ROUTES)}.")
    rule_id: str | None = Field(default=None, description="The rule that should have applied (a CONTRACT.md rule id).")
    agent: str | None = Field(default=None, description="Who corrected it: an agent id (at most 200 characters).")
    created_at: str | None = Field(default=None, description="ISO 8601 time the ticket was written.")


# The body reaches ``parse_correction`` as raw JSON, so a wrongly typed field gets the same words as in
# an import file; the OpenAPI document still shows ``FeedbackIn``.
RawFeedback = Annotated[Any, WithJsonSchema(FeedbackIn.model_json_schema(), mode="validation")]


class FeedbackOut(BaseModel):
    """A stored correction."""

    feedback_id: str


class FeedbackSummaryOut(BaseModel):
    """Counts of stored corrections; never any text."""

    total: int
    by_category: dict[str, int]
    by_rule: dict[str, int]
