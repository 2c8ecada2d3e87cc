"""The help-desk lead's backlog report, on a hand-made scored backlog."""

import pandas as pd
import pytest

from serving.decision import RULE_IDS
from pipeline.evaluation.backlog import created_in_zone, summarize_backlog


def backlog() -> pd.DataFrame:
    rows = [
        # ticket_id, category, route, rule_id, needs_review, safety_flag, waited, created_at, timezone, error
        ("A", "clinical", "provider", "SAFETY-CRISIS", False, True, None, "2026-03-02T09:00:00-05:00", "", None),
        ("B", "clinical", "support_team", "ESCALATE-48H", False, False, 50.0, "2026-03-02T14:30:00Z", "", None),
        ("C", "billing", "support_team", "ESCALATE-48H", True, False, 200.0, "2026-03-03T08:00", "America/Chicago", None),
        ("D", "scheduling", "provider", "SCHED-LT24", True, False, None, "2026-03-03T23:59:00+00:00", "", None),
        ("E", "technical", "support_team", "TECH-SUPPORT", False, False, None, "", "", None),
        ("F", None, None, None, None, None, None, "2026-03-04T10:00:00Z", "", "text: must not be empty"),
    ]
    columns = ["ticket_id", "category", "route", "rule_id", "needs_review", "safety_flag",
               "hours_awaiting_provider", "created_at", "timezone", "error"]
    return pd.DataFrame(rows, columns=columns)


def test_overview_counts_and_rejects():
    overview = summarize_backlog(backlog())["overview"]["value"]
    assert overview["tickets in"] == 6 and overview["scored"] == 5 and overview["rejected"] == 1
    assert overview["to provider"] == 2 and overview["to support team"] == 3
    assert overview["needs review"] == 2 and overview["needs review (share)"] == pytest.approx(0.4)
    assert overview["safety flags"] == 1 and overview["escalated after 48 h"] == 2


def test_route_rule_and_category_mix():
    report = summarize_backlog(backlog())
    assert report["routes"].loc["support_team", "tickets"] == 3
    assert report["routes"]["share"].sum() == pytest.approx(1.0)
    rules = report["rules"]
    assert list(rules.index) == list(RULE_IDS)
    assert rules.loc["ESCALATE-48H", "tickets"] == 2 and rules.loc["ESCALATE-48H", "route"] == "support_team"
    assert rules.loc["ESCALATE-48H", "needs review (share)"] == pytest.approx(0.5)
    assert rules.loc["BILL-INSURANCE", "tickets"] == 0 and rules.loc["BILL-INSURANCE", "route"] == "-"
    categories = report["categories"]
    assert categories.loc["clinical", "tickets"] == 2 and categories.loc["clinical", "safety flags"] == 1
    assert categories.loc["clinical", "to provider (share)"] == pytest.approx(0.5)
    assert categories.loc["account", "tickets"] == 0


def test_safety_list_has_ids_but_no_text_and_escalation_waits_are_binned():
    report = summarize_backlog(backlog())
    assert report["safety"]["ticket_id"].tolist() == ["A"] and "text" not in report["safety"].columns
    escalations = report["escalations"]["tickets"]
    assert escalations["48-72 h"] == 1 and escalations["over a week"] == 1 and escalations.sum() == 2


def test_volume_uses_the_clients_zone_for_naive_timestamps():
    report = summarize_backlog(backlog(), zone="UTC")
    by_hour = report["by_hour"]
    assert by_hour.shape == (7, 24) and by_hour.to_numpy().sum() == 4  # E has no created_at, F is rejected
    assert by_hour.loc["Mon", 14] == 2  # 09:00-05:00 and 14:30Z
    assert by_hour.loc["Tue", 14] == 1  # 08:00 naive in Chicago (CST) is 14:00 UTC
    assert by_hour.loc["Tue", 23] == 1
    assert report["by_day"]["tickets"].tolist() == [2, 2]


def test_created_in_zone_reads_text_flags_and_bad_values():
    frame = pd.DataFrame({"created_at": ["2026-07-01T12:00:00Z", "not a date", None], "timezone": ["", "Nowhere/X", None]})
    created = created_in_zone(frame, "America/New_York")
    assert created.iloc[0].hour == 8 and created.iloc[1:].isna().all()
    csv_like = backlog().astype({"needs_review": str, "safety_flag": str})
    assert summarize_backlog(csv_like)["overview"]["value"]["safety flags"] == 1
