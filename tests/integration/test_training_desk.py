"""Training on a desk's own export and its agents' corrections, into a real MLflow store and corrections database."""

from __future__ import annotations

import json
from collections import Counter

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from pipeline.data import DataError, load_labelled, split_by_family
from pipeline.dataset import DataOptions, prepare_dataset
from pipeline.dedup import group_duplicates
from pipeline.tracking import run_training
from serving.batch.runner import join_text
from serving.feedback.corrections import parse_correction
from serving.feedback.store import FeedbackStore
from serving.model.loader import load_model
from tests.conftest import FAST_GRID, SAMPLE, make_settings
from tests.utils.desk import DESK_LABELS, gift_card_tickets, plain_export
from triage.cli import app

pytestmark = pytest.mark.slow



def mapped(folder, **changes) -> DataOptions:
    """The options that read ``plain_export``: its columns, its label names (a label map file), its dates."""
    label_map = folder / "labels.json"
    label_map.write_text(json.dumps(DESK_LABELS))
    return DataOptions(
        text_cols="Subject,Description", label_col="Ticket Type", mappings=("created_at=Created",), label_map=label_map, **changes
    )


def test_train_command_on_a_plain_export_with_the_desks_names(tmp_path):
    export = plain_export(tmp_path / "export.csv", n=1500)
    junk = pd.DataFrame({"Id": ["J-1", "J-2"], "Subject": ["", "Win a prize"], "Description": ["", "click here"],
                         "Ticket Type": ["Billing", "Spam"], "Created": ["2026-01-01T00:00:00Z"] * 2})  # fmt: skip
    pd.concat([export, junk]).to_csv(tmp_path / "export.csv", index=False)
    label_map = tmp_path / "labels.json"
    label_map.write_text(json.dumps(DESK_LABELS))
    settings = make_settings(tmp_path)
    env = {"MLFLOW_TRACKING_URI": settings.tracking_uri, "TRIAGE_ARTIFACT_ROOT": settings.artifact_root,
           "TRIAGE_DATABASE_URL": settings.database_url, "TRIAGE_EXTERNAL_EVAL_PATH": "/nonexistent.csv"}  # fmt: skip
    args = ["train", "--data", str(tmp_path / "export.csv"), "--text-col", "Subject,Description", "--label-col", "Ticket Type",
            "--label-map", str(label_map), "--map", "created_at=Created", "--results-fp", str(tmp_path / "summary.json")]  # fmt: skip
    from serving.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("data report: ") and out.index("data report") < out.index("holdout macro-F1")
    assert "rows read            1,502" in out and "rows dropped             2" in out
    assert "text: is required" in out and "'Spam' 1" in out
    assert "split            by time: test = the newest 15%" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["holdout"]["macro_f1"] > 0.8
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.get_run(summary["run_id"])
    assert run.data.params["split"].startswith("by time") and run.data.metrics["data_rows_dropped"] == 2
    assert run.data.metrics["feedback_used"] == 0
    mlflow.set_tracking_uri(settings.tracking_uri)
    logged = mlflow.artifacts.load_dict(f"runs:/{summary['run_id']}/data/report.json")
    assert logged["rows_used"] == 1500 and logged["dropped"]["category: not one of our categories and not in the label map"] == 1
    assert "data report:" in mlflow.artifacts.load_text(f"runs:/{summary['run_id']}/data/report.txt")


def test_a_short_category_is_refused_by_name_or_topped_up_from_the_sample(tmp_path):
    settings = make_settings(tmp_path)
    frame = load_labelled(SAMPLE)[["text", "category"]]
    few = pd.concat([frame[frame["category"] != "billing"].sample(600, random_state=0), frame[frame["category"] == "billing"].head(5)])
    few.to_csv(tmp_path / "few.csv", index=False)
    with pytest.raises(DataError, match=r"billing has 5; at least 20 needed.*--with-sample"):
        prepare_dataset(settings, tmp_path / "few.csv")
    dataset = prepare_dataset(settings, tmp_path / "few.csv", DataOptions(with_sample=True))
    report = dataset.report
    # Topped up to the desk's median category (about 150 rows here), from sample tickets of that category only.
    assert report["rows_by_source"]["sample"] == report["sample_top_up"]["billing"] > 100
    assert list(report["sample_top_up"]) == ["billing"]
    assert report["split"]["method"].startswith("at random by duplicate group")
    assert all(part["billing"] > 0 for part in report["split"]["per_category"].values())
    assert prepare_dataset(settings, tmp_path / "few.csv", DataOptions(min_per_category=5)).report["sample_top_up"] == {}


def test_the_sample_keeps_its_family_split(tmp_path):
    dataset = prepare_dataset(make_settings(tmp_path), SAMPLE)
    expected = split_by_family(load_labelled(SAMPLE), seed=42)
    for name in ("train", "val", "test"):
        assert getattr(dataset.split, name)["text"].tolist() == getattr(expected, name)["text"].tolist()
    assert dataset.report["split"]["method"].startswith("by phrasing family")


def test_a_correction_overrides_the_label_of_the_same_text_and_no_feedback_keeps_it_for_the_test_only(tmp_path):
    settings = make_settings(tmp_path)
    export = plain_export(tmp_path / "export.parquet", n=600)
    store = FeedbackStore(settings.database_url)
    joined = pd.Series([join_text(pair) for pair in zip(export["Subject"], export["Description"])])
    targets = joined.head(30).tolist()
    for i, text in enumerate(targets):
        # Different case and spacing: the same message after normalisation.
        store.add(parse_correction({"ticket_id": f"C-{i}", "text": "  " + text.upper() + " ", "category": "clinical"}))
    store.close()
    before = {t: c for t, c in zip(joined, export["Ticket Type"].map(DESK_LABELS))}
    with_feedback = prepare_dataset(settings, tmp_path / "export.parquet", mapped(tmp_path))
    report = with_feedback.report["feedback"]
    assert report["stored"] == 30 and report["rows_added"] == 0
    assert report["labels_overridden"] == sum(before[t] != "clinical" for t in targets)
    everything = pd.concat([with_feedback.split.train, with_feedback.split.val, with_feedback.split.test])
    assert (everything.set_index("text").loc[targets, "category"] == "clinical").all()
    without = prepare_dataset(settings, tmp_path / "export.parquet", mapped(tmp_path, use_feedback=False))
    learned = pd.concat([without.split.train, without.split.val]).set_index("text")
    assert all(learned.loc[t, "category"] == before[t] for t in targets if t in learned.index)
    tested = without.split.test.set_index("text")
    assert all(tested.loc[t, "category"] == "clinical" for t in targets if t in tested.index)
    assert without.report["feedback"]["trained_per_category"] == dict.fromkeys(("clinical", "scheduling", "billing", "technical", "account"), 0)
    assert without.split.test["text"].tolist() == with_feedback.split.test["text"].tolist()


def test_corrections_change_the_next_models_answers_and_a_model_ignoring_them_stays_out(tmp_path):
    settings = make_settings(tmp_path, external_eval_path=tmp_path / "none.csv")
    data = tmp_path / "export.csv"
    plain_export(data, n=2000)
    first = run_training(settings, data, grid=FAST_GRID, options=mapped(tmp_path))
    assert first["persona_rows"] == 0  # a desk's export trains on the desk's own tickets

    corrections = gift_card_tickets(40, seed=1)
    candidates = gift_card_tickets(300, seed=2)
    groups = group_duplicates(corrections + candidates).group
    # Similar but unseen: same topic, no exact or near copy of any correction.
    unseen = [t for t, g in zip(candidates, groups[40:]) if g not in set(groups[:40])][:20]
    assert len(unseen) == 20
    before = Counter(p.category for p in load_model(f"models:/ticket-triage/{first['version']}", settings).predict(unseen))
    assert before["account"] <= 5, before  # the confusion is real: the first model mostly says billing

    store = FeedbackStore(settings.database_url)
    for i, text in enumerate(corrections):
        store.add(parse_correction({"ticket_id": f"G-{i}", "text": text, "category": "account", "rule_id": "ACCOUNT-SUPPORT", "agent": "a-9"}))
    store.close()
    second = run_training(settings, data, grid=FAST_GRID, options=mapped(tmp_path))
    after = Counter(p.category for p in load_model(f"models:/ticket-triage/{second['version']}", settings).predict(unseen))
    assert after["account"] >= 16, after  # at least 80% follow the correction
    assert second["gate"]["promoted"] and second["gate"]["candidate_score"] > second["gate"]["champion_score"]
    feedback = second["data"]["feedback"]
    assert feedback["stored"] == 40 and feedback["in_test"] > 0
    assert feedback["trained_per_category"]["account"] == 40 - feedback["in_test"]
    run = MlflowClient(tracking_uri=settings.tracking_uri).get_run(second["run_id"])
    assert run.data.metrics["feedback_used_account"] == 40 - feedback["in_test"]
    assert run.data.metrics["feedback_used_billing"] == 0

    ignoring = run_training(settings, data, grid=FAST_GRID, options=mapped(tmp_path, use_feedback=False))
    assert not ignoring["gate"]["promoted"], ignoring["gate"]
    champion = MlflowClient(tracking_uri=settings.tracking_uri).get_model_version_by_alias("ticket-triage", "champion")
    assert str(champion.version) == second["version"]
