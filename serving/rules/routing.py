"""The routing rules of CONTRACT.md section 3: one ticket and a prediction in, one decision out.

Pure and deterministic: no clock, no randomness, no I/O, so the API, batch scoring, notebooks and
the MLflow model give the same decision for the same input.

Rounding: hours are rounded to 0.01 h (36 s) *before* the rules compare them, so the number shown
in the decision is exactly the number the rule used (23.99 is under 24, 24.00 is not).
Probabilities and confidence are passed through as the model calibrated them (a crisis ticket's
confidence is its ``p_clinical``); rounding them is the presentation layer's choice.
"""

from __future__ import annotations

from serving.rules.crisis import detect_crisis
from serving.decision import CATEGORIES, Decision, Prediction
from serving.rules.signals import detect_non_english, signal_fired
from serving.rules.textprep import PreparedText, prepare_text
from serving.tickets import Ticket
from serving.rules.timetext import elapsed_hours, find_appointment_time, find_wait_hours

ESCALATE_AFTER_HOURS = 48.0
LATE_CANCEL_HOURS = 24.0

_PORTAL = "message your provider in the client portal"
_WIDGET = "contact the Support Team through the help widget"
_REASONS = {
    "SAFETY-CRISIS": (
        "The message suggests a possible crisis, so it goes to your provider right away; if you "
        "are in danger now, call or text 988 (Suicide & Crisis Lifeline) or call 911."
    ),
    "TECH-LOCKED-OUT": (
        "Technical problem and you are locked out of your account, so submit the Contact Us form "
        "and the Support Team will restore access."
    ),
    "TECH-SUPPORT": (
        "Technical problem (login, two-step verification, video, messaging or scheduling tool), "
        f"so {_WIDGET}."
    ),
    "ACCOUNT-SUPPORT": f"Account details or settings request, so {_WIDGET}.",
    "CLIN-URGENT-REFILL": (
        "Urgent clinical need such as a delayed refill, so the Support Team will contact your "
        "provider on your behalf; reach them through the help widget."
    ),
    "CLIN-END-CARE": (
        "You want to end care and would rather not tell your provider yourself, so the Support "
        "Team will reach out for you; contact them through the help widget."
    ),
    "CLIN-PROVIDER": f"Clinical question (therapy, treatment or medication), so {_PORTAL}.",
    "SCHED-NO-SHOW": f"Your provider did not show up for the session, so report it: {_WIDGET}.",
    "SCHED-RECURRING": f"Change to a recurring series of appointments, so {_PORTAL}.",
    "SCHED-UNKNOWN-TIME": (
        "Scheduling request with no appointment time given, so the Support Team can check the "
        "calendar; contact them through the help widget."
    ),
    "BILL-INSURANCE": f"Insurance update or in-network check, so {_WIDGET}.",
    "BILL-PROVIDER-FIRST": (
        f"Billing question (fees, charges or a dispute), so start with your provider: {_PORTAL}."
    ),
}


def _round_hours(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 2)


def _format_hours(hours: float) -> str:
    """One decimal when exact ("5.0 h"), else two ("23.99 h"), so a boundary never looks crossed."""
    return f"{hours:.1f}" if round(hours, 1) == hours else f"{hours:.2f}"


def _scheduling_reason(rule_id: str, hours: float, source: str) -> str:
    shown = _format_hours(abs(hours))
    where = " (time read from your message)" if source == "text" else ""
    if rule_id == "SCHED-LT24-EMERGENCY":
        return (
            f"Appointment starts in {shown} h{where}, under 24 h, and you report an emergency, so "
            f"the Support Team can help with the urgent cancellation: {_WIDGET}."
        )
    if rule_id == "SCHED-LT24":
        return (
            f"Appointment starts in {shown} h{where}, under 24 h, so {_PORTAL}; late-cancellation "
            "fees may apply."
        )
    if rule_id == "SCHED-GE24":
        return (
            f"Appointment starts in {shown} h{where}, 24 h or more ahead, so the Support Team can "
            "change it: contact them through the help widget."
        )
    return (
        f"Appointment was {shown} h ago{where}, so your provider's own cancellation policy "
        f"applies: {_PORTAL}."
    )


def _route_scheduling(
    ticket: Ticket, prepared: PreparedText, learned: dict[str, bool], hours: float | None
) -> tuple[str, str]:
    """Rule id and route for a scheduling ticket (no-show, recurring, then by hours)."""
    if signal_fired("provider_no_show", learned, prepared):
        return "SCHED-NO-SHOW", "support_team"
    if signal_fired("recurring_series", learned, prepared):
        return "SCHED-RECURRING", "provider"
    if hours is None:
        return "SCHED-UNKNOWN-TIME", "support_team"
    if hours < 0:
        return "SCHED-PAST", "provider"
    if hours < LATE_CANCEL_HOURS:
        emergency = ticket.emergency
        if emergency is None:
            emergency = signal_fired("emergency", learned, prepared)
        if emergency:
            return "SCHED-LT24-EMERGENCY", "support_team"
        return "SCHED-LT24", "provider"
    return "SCHED-GE24", "support_team"


def _route_category(
    category: str, ticket: Ticket, prepared: PreparedText, learned: dict[str, bool], hours: float | None
) -> tuple[str, str]:
    """Rule id and route from the category rules (everything below ESCALATE-48H)."""
    if category == "technical":
        if signal_fired("locked_out", learned, prepared):
            return "TECH-LOCKED-OUT", "support_team"
        return "TECH-SUPPORT", "support_team"
    if category == "account":
        return "ACCOUNT-SUPPORT", "support_team"
    if category == "clinical":
        if signal_fired("urgent_refill", learned, prepared):
            return "CLIN-URGENT-REFILL", "support_team"
        if signal_fired("end_care", learned, prepared):
            return "CLIN-END-CARE", "support_team"
        return "CLIN-PROVIDER", "provider"
    if category == "scheduling":
        return _route_scheduling(ticket, prepared, learned, hours)
    if signal_fired("insurance", learned, prepared):
        return "BILL-INSURANCE", "support_team"
    return "BILL-PROVIDER-FIRST", "provider"


def _signals_conflict(category: str, prepared: PreparedText, learned: dict[str, bool]) -> bool:
    """Whether strong signals contradict the category (e.g. a lock-out on a billing ticket).

    Only the lock-out signal is checked across categories: it is precise and cheap; the
    no-show and refill signals are looser and would flag too many tickets for review.
    """
    if category != "technical" and signal_fired("locked_out", learned, prepared):
        return True
    return detect_non_english(prepared)


def decide(ticket: Ticket, prediction: Prediction) -> Decision:
    """Apply the routing rules of CONTRACT.md section 3, first match wins.

    Args:
        ticket: a validated ticket from ``parse_ticket``.
        prediction: the classifier's output for the ticket text; its learned ``signals`` are read
            through ``signal_fired``, which falls back to the text patterns for names it lacks.

    Returns:
        The decision, with the rule id and a one-sentence reason naming the facts used.

    Raises:
        ValueError: when the prediction's category is not one of ``CATEGORIES``.
    """
    category = prediction.category
    if category not in CATEGORIES:
        raise ValueError(f"prediction.category must be one of {CATEGORIES}")
    prepared = prepare_text(ticket.text)
    created = ticket.created_at

    time_review = False
    if ticket.appointment_at is not None:
        hours = _round_hours(elapsed_hours(created, ticket.appointment_at))
        source = "field"
    else:
        found = find_appointment_time(prepared, created, ticket.timezone)
        if found is None:
            hours, source = None, None
        else:
            hours, source = _round_hours(elapsed_hours(created, found.at)), "text"
            time_review = found.needs_review
    if ticket.awaiting_provider_since is not None:
        waited = _round_hours(elapsed_hours(ticket.awaiting_provider_since, created))
    else:
        waited = _round_hours(find_wait_hours(prepared, created, ticket.timezone))

    probabilities = dict(prediction.probabilities)  # a copy: the decision must not alias the input
    learned = prediction.signals
    needs_review = prediction.uncertain or _signals_conflict(category, prepared, learned)

    crisis = learned.get("crisis")
    if detect_crisis(prepared) if crisis is None else crisis:
        # A model with the learned score decided with the patterns (serving.model.crisis); one without
        # it has no "crisis" signal, and the patterns alone decide.
        # Crisis tickets are clinical whatever the model said; a different label is a conflict.
        return Decision(  # positional, in field order: see Decision
            ticket.ticket_id,
            "clinical",  # category
            probabilities.get("clinical", 0.0),  # confidence
            probabilities,
            "provider",  # route
            "SAFETY-CRISIS",  # rule_id
            _REASONS["SAFETY-CRISIS"],  # reason
            needs_review or category != "clinical",  # needs_review
            True,  # safety_flag
            hours,  # hours_until_appointment
            source,  # appointment_source
            waited,  # hours_awaiting_provider
            prediction.model_version,
        )

    rule_id, route = _route_category(category, ticket, prepared, learned, hours)
    if rule_id.startswith("SCHED-") and rule_id not in ("SCHED-NO-SHOW", "SCHED-RECURRING"):
        needs_review = needs_review or time_review
        reason = (
            _REASONS[rule_id] if hours is None else _scheduling_reason(rule_id, hours, source)
        )
    else:
        reason = _REASONS[rule_id]
    if route == "provider" and waited is not None and waited >= ESCALATE_AFTER_HOURS:
        where = " (from your message)" if ticket.awaiting_provider_since is None else ""
        rule_id, route = "ESCALATE-48H", "support_team"
        reason = (
            f"No reply from your provider for {_format_hours(waited)} h{where}, 48 h or more, so "
            f"the Support Team will follow up: {_WIDGET}."
        )
    return Decision(  # positional, in field order: see Decision
        ticket.ticket_id,
        category,
        prediction.confidence,
        probabilities,
        route,
        rule_id,
        reason,
        needs_review,
        False,  # safety_flag
        hours,  # hours_until_appointment
        source,  # appointment_source
        waited,  # hours_awaiting_provider
        prediction.model_version,
    )
