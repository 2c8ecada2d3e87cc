"""``triage route``: decide one ticket from the command line and print the decision as JSON.

Registered by ``triage/cli.py`` with ``app.command("route")(cli_errors(route_command))``, so a model
that cannot be loaded or any other error ends with a one-line message, never a traceback.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from serving.decision import CATEGORIES, Prediction
from serving.rules.routing import decide
from serving.tickets import TicketError, parse_ticket

def build_manual_prediction(category: str) -> Prediction:
    """A certain prediction for a category given by hand.

    Args:
        category: one of ``CATEGORIES``.

    Returns:
        Confidence 1.0, one-hot probabilities, model version ``manual``.

    Raises:
        TicketError: when the category is unknown (field ``category``).
    """
    if category not in CATEGORIES:
        raise TicketError("category", f"must be one of {', '.join(CATEGORIES)}")
    probabilities = {name: 1.0 if name == category else 0.0 for name in CATEGORIES}
    return Prediction(category, 1.0, probabilities, False, "manual")


def route_command(
    text: Annotated[str, typer.Option("--text", help="what the client wrote (subject and body).")],
    created_at: Annotated[
        str | None,
        typer.Option("--created-at", help="ISO 8601 time of the request; default now."),
    ] = None,
    appointment_at: Annotated[
        str | None,
        typer.Option("--appointment-at", help="ISO 8601 start of the appointment, if known."),
    ] = None,
    awaiting_provider_since: Annotated[
        str | None,
        typer.Option(
            "--awaiting-provider-since",
            help="ISO 8601 time the client messaged the provider without a reply since.",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="client's IANA zone, e.g. America/New_York; default UTC."),
    ] = None,
    emergency: Annotated[
        bool | None,
        typer.Option(
            "--emergency/--no-emergency",
            help="the client reports a medical or family emergency; default: read the text.",
        ),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option("--category", help=f"skip the model and use this category ({', '.join(CATEGORIES)})."),
    ] = None,
    model_uri: Annotated[
        str | None,
        typer.Option("--model", help="registry URI or local path of the model; the champion by default."),
    ] = None,
) -> None:
    """Route one ticket and print the decision as JSON."""
    raw = {
        "text": text,
        "created_at": created_at,
        "appointment_at": appointment_at,
        "awaiting_provider_since": awaiting_provider_since,
        "timezone": timezone,
        "emergency": emergency,
    }
    try:
        ticket = parse_ticket(raw)
        if category is not None:
            prediction = build_manual_prediction(category)
        else:
            from serving.model.loader import load_model  # heavy imports only when the model is needed

            prediction = load_model(model_uri).predict_one(ticket.text)
    except TicketError as error:
        typer.echo(f"invalid input: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(json.dumps(decide(ticket, prediction).to_dict(), indent=2))
