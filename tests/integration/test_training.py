"""Training into a real temporary MLflow store: run contents, registry, champion gate, determinism."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.data import load_labelled, split_by_family
from pipeline.tracking import run_training
from serving.decision import CATEGORIES
from serving.settings import PROJ_ROOT
from tests.conftest import FAST_GRID, SAMPLE, make_settings
from triage.cli import app

pytestmark = pytest.mark.slow


def test_run_leaves_a_champion_with_params_metrics_and_plots(trained):
    settings, summary = trained
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    champion = client.get_model_version_by_alias("ticket-triage", "champion")
    assert str(champion.version) == summary["version"] == "1"
    run = client.get_run(summary["run_id"])
    assert run.data.params["features"] == "static+tfidf"
    assert run.data.params["seed"] == "42" and run.data.params["precision_target"] == "0.9"
    assert len(run.data.params["data_sha256"]) == 64
    assert run.data.params["package_version"]
    for metric in ("holdout_macro_f1", "holdout_ece", "holdout_f1_clinical", "train_seconds"):
        assert metric in run.data.metrics
    if settings.external_eval_path.exists():
        assert "external_macro_f1" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(summary["run_id"], "plots")}
    assert {"plots/holdout_confusion.png", "plots/holdout_reliability.png"} <= artifacts
    assert run.data.tags["champion_gate"] == "promoted"
    persona = sum(1 for line in (PROJ_ROOT / "data" / "routing" / "tune.jsonl").read_text().splitlines() if line.strip())
    assert summary["persona_rows"] == persona > 0 and run.data.params["persona_training_rows"] == str(persona)


def test_run_logs_each_learned_signal(trained):
    from serving.rules.signals import SIGNALS

    settings, summary = trained
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.get_run(summary["run_id"])
    assert run.data.params["signal_recall_target"] == "0.95"
    for name in SIGNALS:
        assert 0.0 < run.data.metrics[f"signal_{name}_threshold"] < 1.0
        for part in ("validation", "holdout"):
            assert 0.0 <= run.data.metrics[f"{part}_signal_{name}_precision"] <= 1.0
            assert 0.0 <= run.data.metrics[f"{part}_signal_{name}_recall"] <= 1.0
    assert "training/signals.json" in {a.path for a in client.list_artifacts(summary["run_id"], "training")}
    assert set(summary["signals"]["holdout"]) == set(SIGNALS)


def test_run_logs_the_crisis_score_cross_validated_by_kind(trained):
    settings, summary = trained
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.get_run(summary["run_id"])
    metrics = run.data.metrics
    for name in ("crisis_cv_recall", "crisis_cv_gate", "crisis_cv_threshold", "crisis_cv_transformer_share_sample",
                 "crisis_cv_recall_passive_ideation", "crisis_cv_recall_buried",
                 "crisis_cv_false_flag_rate_heavy_grief", "crisis_cv_false_flag_rate_idiom"):  # fmt: skip
        assert name in metrics
    assert run.data.params["crisis_recall_target"] == "0.95" and run.data.params["crisis_folds"] == "5"
    assert run.data.params["crisis_transformer_share"] == str(settings.crisis_transformer_share)
    report = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/training/crisis.json")
    assert report["by_kind"]["double_negation"]["label"] == 1
    assert set(report["by_kind"]) == set(report["by_kind_patterns_only"]) == set(report["by_kind_learned_only"])


def test_holdout_families_are_unseen_and_model_is_useful(trained):
    _, summary = trained
    frame = load_labelled(SAMPLE)
    split = split_by_family(frame, seed=42)
    assert not set(split.train["family"]) & set(split.test["family"])
    assert not set(split.val["family"]) & set(split.test["family"])
    assert summary["holdout"]["macro_f1"] > 0.8
    assert summary["holdout"]["ece"] < 0.1


def test_registered_pyfunc_returns_full_decisions(trained):
    settings, _ = trained
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = mlflow.pyfunc.load_model(settings.model_uri)
    frame = pd.DataFrame(
        {
            "ticket_id": ["a", "b"],
            "text": ["My card was charged twice for the same session, please refund one.", "   "],
            "created_at": ["2026-03-02T09:00:00-05:00", "2026-03-02T09:00:00-05:00"],
        }
    )
    out = model.predict(frame)
    assert out.loc[0, "category"] in CATEGORIES and out.loc[0, "route"] in ("provider", "support_team")
    assert out.loc[0, "model_version"] == "1" and pd.isna(out.loc[0, "error"])
    assert pd.isna(out.loc[1, "route"]) and out.loc[1, "error"].startswith("text:")


def test_gate_keeps_the_champion_when_the_candidate_is_worse(tmp_path):
    settings = make_settings(tmp_path)
    good = run_training(settings, SAMPLE, grid=FAST_GRID)
    # The same data under crushing regularisation gives a clearly worse model on the same holdout.
    worse = run_training(settings, SAMPLE, grid={"features": ["static"], "C": [0.0001]})
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    assert str(client.get_model_version_by_alias("ticket-triage", "champion").version) == good["version"]
    assert worse["gate"]["promoted"] is False and worse["version"] == "2"
    assert client.get_run(worse["run_id"]).data.tags["champion_gate"] == "rejected"
    # --force and `triage promote` override the gate.
    runner = CliRunner()
    env = {"MLFLOW_TRACKING_URI": settings.tracking_uri}
    from serving.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["promote", "2"], env=env)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert str(client.get_model_version_by_alias("ticket-triage", "champion").version) == "2"
    assert runner.invoke(app, ["promote", "99"], env=env).exit_code == 2
    get_settings.cache_clear()


def test_same_seed_same_model(tmp_path):
    frame = load_labelled(SAMPLE).sample(1500, random_state=0)
    small = tmp_path / "small.csv"
    frame.to_csv(small, index=False)
    texts = frame["text"].head(50).tolist()
    probas = []
    for name in ("a", "b"):
        settings = make_settings(tmp_path / name)
        summary = run_training(settings, small, grid=FAST_GRID)
        from serving.model.loader import load_model

        probas.append(load_model(f"models:/ticket-triage/{summary['version']}", settings).predict_proba(texts))
    assert (probas[0] == probas[1]).all()


def test_evaluate_command_prints_and_writes_the_figures(trained, tmp_path):
    settings, _ = trained
    frame = load_labelled(SAMPLE).head(300)
    # Expected routes from the rules themselves would be circular; a constant column checks the arithmetic.
    frame["expected_route"] = "support_team"
    data = tmp_path / "labelled.csv"
    frame.to_csv(data, index=False)
    results = tmp_path / "figures.json"
    from serving.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(
        app, ["evaluate", str(data), "--results-fp", str(results)], env={"MLFLOW_TRACKING_URI": settings.tracking_uri}
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "confusion matrix" in result.output and "route accuracy" in result.output
    import json

    report = json.loads(results.read_text())
    assert report["n"] == 300 and set(report["per_category"]) == set(CATEGORIES)
    assert 0.0 <= report["ece"] <= 1.0 and report["model_version"].isdigit()
    mlflow.set_tracking_uri(settings.tracking_uri)
    decisions = mlflow.pyfunc.load_model(settings.model_uri).predict(frame.drop(columns=["category"]))
    assert report["route_accuracy"] == pytest.approx((decisions["route"] == "support_team").mean())
