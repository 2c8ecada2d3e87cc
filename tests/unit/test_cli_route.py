"""triage route: JSON out, exit code 2 with the field name on bad input."""

import json

import typer
from typer.testing import CliRunner

from triage.route import route_command

app = typer.Typer()
app.command("route")(route_command)


@app.callback()
def _root() -> None:
    """Keep ``route`` as a named sub-command, as in triage/cli.py."""


runner = CliRunner()


def test_route_with_manual_category():
    result = runner.invoke(app, [
        "route", "--text", "can I cancel tomorrow at 3pm", "--created-at", "2024-05-15T10:00:00",
        "--timezone", "America/New_York", "--category", "scheduling",
    ])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["rule_id"] == "SCHED-GE24" and decision["model_version"] == "manual"
    assert decision["confidence"] == 1.0 and decision["probabilities"]["scheduling"] == 1.0


def test_emergency_flag():
    result = runner.invoke(app, [
        "route", "--text", "cancel", "--created-at", "2024-05-15T10:00:00Z",
        "--appointment-at", "2024-05-15T12:00:00Z", "--emergency", "--category", "scheduling",
    ])
    assert json.loads(result.output)["rule_id"] == "SCHED-LT24-EMERGENCY"


def test_bad_field_exits_2_naming_it():
    result = runner.invoke(app, ["route", "--text", "my diagnosis", "--timezone", "Mars/Base",
                                 "--category", "billing"])
    assert result.exit_code == 2
    assert "timezone" in result.output and "my diagnosis" not in result.output


def test_bad_category_exits_2():
    result = runner.invoke(app, ["route", "--text", "x", "--category", "other"])
    assert result.exit_code == 2 and "category" in result.output
