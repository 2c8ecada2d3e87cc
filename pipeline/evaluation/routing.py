"""Route and rule accuracy of a model on a routing set (tickets with the rule and route they should get).

Usage: ``python -m pipeline.evaluation.routing PATH [--model URI] [--results-fp OUT.json]``.

A routing set is a CSV, JSON Lines or Parquet file with the contract's ticket fields (``text``
required; ``created_at``, ``timezone``, ``appointment_at``, ``awaiting_provider_since``,
``emergency`` optional) plus ``expected_rule_id`` and ``expected_route``, and optionally
``expected_hours`` and ``expected_wait_hours``. Tickets go through ``serving.scoring`` (the one
scoring path), so the figures are what the API and batch scoring would give. Crisis recall is
the share of ``SAFETY-CRISIS`` tickets that got ``safety_flag``; false flags are the other tickets
that got it. The output names rule ids and counts only, never ticket text.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from serving.decision import RULE_IDS, ROUTES

EXPECTED_COLUMNS: tuple[str, ...] = ("expected_rule_id", "expected_route")
# Hours are rounded to 0.01 h before the rules use them; a read time counts as exact within that.
HOURS_TOLERANCE = 0.01


@dataclass(frozen=True)
class RoutingReport:
    """What ``evaluate_routing`` measured on one set."""

    tickets: int
    rejected: int
    route_accuracy: float
    rule_accuracy: float
    per_rule: dict[str, tuple[int, int]]  # expected rule -> (right, total)
    confusions: list[tuple[str, str, int]]  # (expected, got, count), most frequent first
    hours_exact: tuple[int, int] | None  # (exact, total) over tickets with expected_hours
    wait_exact: tuple[int, int] | None  # (exact, total) over tickets with expected_wait_hours
    crisis_recall: float | None
    crisis_found: tuple[int, int]  # (flagged, crisis tickets)
    false_flags: tuple[int, int]  # (flagged, safe tickets)
    model_version: str

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready figures."""
        return asdict(self)


def read_routing_set(path: Path) -> pd.DataFrame:
    """Read and check a routing set.

    Raises:
        DataError: the file is unreadable, a column is missing, or an expected value is unknown.
    """
    from pipeline.data import DataError, read_table

    frame = read_table(path)
    missing = [c for c in ("text", *EXPECTED_COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    for column, known in (("expected_rule_id", RULE_IDS), ("expected_route", ROUTES)):
        unknown = sorted(set(frame[column].dropna().astype(str)) - set(known))
        if unknown or frame[column].isna().any():
            raise DataError(f"{path}: {column} must be one of {known}; got {unknown or 'empty values'}")
    return frame


def _exact(got: pd.Series, expected: pd.Series) -> tuple[int, int] | None:
    given = expected.notna()
    if not given.any():
        return None
    got_values = pd.to_numeric(got[given], errors="coerce").to_numpy(dtype=float)
    diff = np.abs(got_values - expected[given].to_numpy(dtype=float))
    return int((diff <= HOURS_TOLERANCE + 1e-9).sum()), int(given.sum())


def score_routing(frame: pd.DataFrame, decisions: pd.DataFrame, model_version: str) -> RoutingReport:
    """Compare decisions with the expected rule ids and routes.

    Args:
        frame: the routing set from ``read_routing_set``.
        decisions: ``score_frame`` output for it, same row order.
        model_version: shown in the report.

    Returns:
        The figures; a rejected ticket counts as wrong.
    """
    expected_rule = frame["expected_rule_id"].astype(str).to_numpy()
    got_rule = decisions["rule_id"].fillna("REJECTED").astype(str).to_numpy()
    route_right = decisions["route"].fillna("").astype(str).to_numpy() == frame["expected_route"].astype(str).to_numpy()
    rule_right = got_rule == expected_rule
    per_rule = {
        rule: (int(rule_right[expected_rule == rule].sum()), int((expected_rule == rule).sum()))
        for rule in RULE_IDS
        if (expected_rule == rule).any()
    }
    confusions = Counter((e, g) for e, g, right in zip(expected_rule, got_rule, rule_right) if not right)
    flagged = decisions["safety_flag"].fillna(False).astype(bool).to_numpy()
    crisis = expected_rule == "SAFETY-CRISIS"
    found, n_crisis = int(flagged[crisis].sum()), int(crisis.sum())
    wait = frame["expected_wait_hours"] if "expected_wait_hours" in frame.columns else None
    return RoutingReport(
        tickets=len(frame),
        rejected=int(decisions["error"].notna().sum()),
        route_accuracy=float(route_right.mean()) if len(frame) else 0.0,
        rule_accuracy=float(rule_right.mean()) if len(frame) else 0.0,
        per_rule=per_rule,
        confusions=[(e, g, n) for (e, g), n in confusions.most_common()],
        hours_exact=(
            _exact(decisions["hours_until_appointment"], frame["expected_hours"]) if "expected_hours" in frame.columns else None
        ),
        wait_exact=None if wait is None else _exact(decisions["hours_awaiting_provider"], wait),
        crisis_recall=found / n_crisis if n_crisis else None,
        crisis_found=(found, n_crisis),
        false_flags=(int(flagged[~crisis].sum()), int((~crisis).sum())),
        model_version=model_version,
    )


def evaluate_routing(path: Path, model_uri: str | None = None, settings: Any = None) -> RoutingReport:
    """Score a routing set through ``serving.scoring`` and compare with its expectations.

    Args:
        path: the routing set.
        model_uri: model URI or folder; the champion when None.
        settings: where the registry is; the process settings when None.

    Returns:
        The report.
    """
    from serving.model.loader import load_model
    from serving.scoring import score_frame

    frame = read_routing_set(path)
    classifier = load_model(model_uri, settings)
    return score_routing(frame, score_frame(classifier, frame), classifier.version)


def _share(pair: tuple[int, int] | None) -> str:
    if pair is None:
        return "n/a"
    right, total = pair
    return f"{right}/{total} ({right / total:.3f})" if total else "0/0"


def format_routing(report: RoutingReport, title: str = "", top: int = 10) -> str:
    """The report as the plain-text table the command prints."""
    lines = [title] if title else []
    lines += [
        f"tickets {report.tickets} (rejected {report.rejected}), model version {report.model_version}",
        f"route accuracy {report.route_accuracy:.3f}",
        f"rule accuracy  {report.rule_accuracy:.3f}",
        f"hours exact    {_share(report.hours_exact)}",
        f"wait exact     {_share(report.wait_exact)}",
        f"crisis recall  {_share(report.crisis_found)}; false flags {_share(report.false_flags)}",
        "",
        f"{'expected rule':<22} {'right':>5} {'total':>5}",
    ]
    lines += [f"{rule:<22} {right:>5} {total:>5}" for rule, (right, total) in report.per_rule.items()]
    if report.confusions:
        lines += ["", f"top confusions (expected -> got, count)"]
        lines += [f"  {e} -> {g}: {n}" for e, g, n in report.confusions[:top]]
    return "\n".join(lines)


app = typer.Typer(add_completion=False)


@app.command()
def main(
    path: Annotated[Path, typer.Argument(help="Routing set: ticket fields plus expected_rule_id and expected_route.")],
    model: Annotated[str | None, typer.Option(help="Model URI or folder; the champion by default.")] = None,
    results_fp: Annotated[Path | None, typer.Option(help="Write the figures as JSON here.")] = None,
) -> None:
    """Print route and rule accuracy, per-rule right/total, top confusions, hours exact and crisis figures."""
    from pipeline.data import DataError
    from serving.settings import Settings

    try:
        report = evaluate_routing(path, model, Settings())
    except DataError as error:
        typer.echo(f"data error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(format_routing(report, str(path)))
    if results_fp:
        results_fp.write_text(json.dumps(report.to_dict(), indent=2))


if __name__ == "__main__":
    app()
