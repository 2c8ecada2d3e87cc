"""The backlog report a help-desk lead reads: where scored tickets go, what needs a human first, when they arrive."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from serving.decision import CATEGORIES, ROUTES, RULE_IDS
from serving.tickets import TicketError, is_absent, parse_timestamp, parse_zone

WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# How long the provider had been silent when a ticket escalated (hours, right edge exclusive).
WAIT_BINS: tuple[float, ...] = (48, 72, 96, 168, float("inf"))
WAIT_LABELS: tuple[str, ...] = ("48-72 h", "72-96 h", "4-7 days", "over a week")


def _share(part: pd.Series, whole: int) -> pd.Series:
    return part / whole if whole else part * 0.0


def _flag(values: pd.Series) -> pd.Series:
    """Booleans from a bool column or its text form in a CSV ("True"/"False")."""
    if values.dtype == bool:
        return values
    return values.map(lambda v: str(v).strip().lower() in ("true", "1")).astype(bool)


def _counts(values: pd.Series, order: tuple[str, ...], total: int) -> pd.DataFrame:
    counts = values.value_counts().reindex(list(order), fill_value=0)
    return pd.DataFrame({"tickets": counts, "share": _share(counts, total)})


def created_in_zone(decisions: pd.DataFrame, zone: str = "UTC") -> pd.Series:
    """When each ticket was created, on the help desk's clock.

    Reads ``created_at`` the way scoring does: a timestamp without an offset is in the row's
    ``timezone`` (UTC when absent or unknown).

    Args:
        decisions: scored rows with ``created_at`` and optionally ``timezone``.
        zone: IANA zone of the help desk.

    Returns:
        Timezone-aware timestamps in ``zone``, NaT where ``created_at`` is absent or unreadable.
    """
    desk = ZoneInfo(zone)
    created = decisions["created_at"] if "created_at" in decisions.columns else pd.Series(None, index=decisions.index)
    zones = decisions["timezone"] if "timezone" in decisions.columns else pd.Series(None, index=decisions.index)
    moments: list[Any] = []
    for value, zone_name in zip(created.tolist(), zones.tolist()):
        if is_absent(value):
            moments.append(pd.NaT)
            continue
        try:
            client_zone = None if is_absent(zone_name) else parse_zone(zone_name)
        except TicketError:
            client_zone = None
        try:
            moments.append(parse_timestamp(value, "created_at", client_zone).astimezone(desk))
        except TicketError:
            moments.append(pd.NaT)
    return pd.Series(pd.to_datetime(moments, utc=True), index=decisions.index).dt.tz_convert(desk)


def summarize_backlog(decisions: pd.DataFrame, zone: str = "UTC") -> dict[str, pd.DataFrame]:
    """Summarize a scored backlog (the output of ``triage score`` or ``score_frame``).

    Rows with an ``error`` (rejected tickets) are counted in ``overview`` and left out of everything else.

    Args:
        decisions: one row per ticket with the contract's decision columns (``route``, ``rule_id``,
            ``category``, ``needs_review``, ``safety_flag``, ``hours_awaiting_provider``, ``ticket_id``),
            plus ``created_at``/``timezone`` when the volume tables are wanted.
        zone: IANA zone of the help desk, for the volume by day and hour.

    Returns:
        ``overview`` (figure -> value), ``routes``, ``rules`` (every rule id, with its route and review share),
        ``categories`` (tickets, provider share, review share, safety flags per category),
        ``safety`` (the flagged tickets' ids, oldest first, no text), ``escalations`` (by how long the
        provider had been silent), ``by_day`` (tickets per date)
        and ``by_hour`` (weekday x hour counts).
    """
    if "error" in decisions.columns:
        rejected = ~decisions["error"].map(is_absent).astype(bool)
    else:
        rejected = pd.Series(False, index=decisions.index)
    scored = decisions[~rejected].copy()
    n = len(scored)
    needs_review = _flag(scored["needs_review"])
    safety = _flag(scored["safety_flag"])
    escalated = scored["rule_id"] == "ESCALATE-48H"
    created = created_in_zone(scored, zone)

    overview = pd.Series(
        {
            "tickets in": len(decisions),
            "scored": n,
            "rejected": int(rejected.sum()),
            "to provider": int((scored["route"] == "provider").sum()),
            "to support team": int((scored["route"] == "support_team").sum()),
            "needs review": int(needs_review.sum()),
            "needs review (share)": float(needs_review.mean()) if n else 0.0,
            "safety flags": int(safety.sum()),
            "escalated after 48 h": int(escalated.sum()),
            "first ticket": created.min(),
            "last ticket": created.max(),
        },
        name="value",
        dtype=object,
    ).rename_axis("figure").to_frame()

    rules = _counts(scored["rule_id"], RULE_IDS, n)
    route_of_rule = scored.groupby("rule_id")["route"].agg(lambda s: "/".join(sorted(s.unique())))
    rules.insert(0, "route", route_of_rule.reindex(rules.index).fillna("-"))
    rules["needs review (share)"] = needs_review.groupby(scored["rule_id"]).mean().reindex(rules.index)

    grouped = scored.groupby("category")
    categories = pd.DataFrame(
        {
            "tickets": grouped.size(),
            "to provider (share)": grouped["route"].agg(lambda s: (s == "provider").mean()),
            "needs review (share)": needs_review.groupby(scored["category"]).mean(),
            "safety flags": safety.groupby(scored["category"]).sum(),
            "escalated": escalated.groupby(scored["category"]).sum(),
        }
    ).reindex(list(CATEGORIES)).fillna(0).astype({"tickets": int, "safety flags": int, "escalated": int})

    flagged = scored[safety]
    safety_table = pd.DataFrame(
        {
            "ticket_id": flagged["ticket_id"],
            "created": created[safety],
            "category": flagged["category"],
            "needs_review": needs_review[safety],
        }
    ).sort_values("created", kind="stable").reset_index(drop=True)

    waits = pd.cut(
        scored.loc[escalated, "hours_awaiting_provider"].astype(float), bins=list(WAIT_BINS), labels=list(WAIT_LABELS), right=False
    )
    escalations = waits.value_counts().reindex(list(WAIT_LABELS), fill_value=0).rename("tickets").rename_axis("provider silent for").to_frame()

    known = created.dropna()
    by_day = known.dt.date.value_counts().sort_index().rename("tickets").rename_axis("date").to_frame()
    by_hour = (
        pd.crosstab(known.dt.day_of_week, known.dt.hour)
        .reindex(index=range(7), columns=range(24), fill_value=0)
        .rename(index=dict(enumerate(WEEKDAYS)))
        .rename_axis(index="weekday", columns="hour")
    )
    return {
        "overview": overview,
        "routes": _counts(scored["route"], ROUTES, n).rename_axis("route"),
        "rules": rules.rename_axis("rule_id"),
        "categories": categories.rename_axis("category"),
        "safety": safety_table,
        "escalations": escalations,
        "by_day": by_day,
        "by_hour": by_hour,
    }
