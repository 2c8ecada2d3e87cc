"""Shared fixtures: a real MLflow store in a temporary folder with a trained champion."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.settings import PROJ_ROOT, Settings

SAMPLE = PROJ_ROOT / "data" / "sample" / "tickets.csv"
# One grid point (the usual winner) keeps the suite quick; the full search runs in `triage train`.
FAST_GRID = {"features": ["static+tfidf"], "C": [16.0]}


def make_settings(root: Path, **overrides) -> Settings:
    """Settings pointing at a SQLite store, an artifact folder and a corrections database under ``root``."""
    overrides.setdefault("database_url", f"sqlite:///{root / 'triage.db'}")
    return Settings(
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        artifact_root=str(root / "artifacts"),
        **overrides,
    )


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> tuple[Settings, dict]:
    """Train once on the sample into a temporary MLflow store; (settings, run summary)."""
    from pipeline.tracking import run_training

    settings = make_settings(tmp_path_factory.mktemp("mlflow"))
    summary = run_training(settings, SAMPLE, grid=FAST_GRID)
    return settings, summary


@pytest.fixture(scope="session")
def champion(trained):
    """The champion classifier loaded from the registry, the way the API and batch load it."""
    from serving.model.loader import load_model

    settings, _ = trained
    return load_model(settings.model_uri, settings)
