"""One tracked training run: data -> fit -> evaluate (holdout and external) -> log -> register -> gate."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable
from typing import Any

import mlflow
import pandas as pd
from sklearn.metrics import f1_score

from pipeline.crisis import CrisisParams, crisis_metrics, ensure_minilm_onnx, load_examples, train_crisis_detector
from pipeline.data import SAMPLE_PATH, load_labelled
from pipeline.dataset import DataOptions, Dataset, prepare_dataset
from pipeline.embeddings import ensure_static_model
from pipeline.persona import with_persona_tickets
from pipeline.evaluation.metrics import classification_report
from pipeline.evaluation.plots import plot_confusion, plot_reliability
from pipeline.register import GateResult, log_and_register, promote
from pipeline.train import train_classifier
from serving.batch.io import file_sha256
from serving.model.classifier import TicketClassifier
from serving.settings import Settings, package_version

log = logging.getLogger(__name__)

EXPERIMENT = "ticket-triage"


def _log_report(report: dict[str, Any], prefix: str) -> None:
    mlflow.log_metrics(
        {
            f"{prefix}_macro_f1": report["macro_f1"],
            f"{prefix}_accuracy": report["accuracy"],
            f"{prefix}_ece": report["ece"],
            **{f"{prefix}_f1_{c}": m["f1"] for c, m in report["per_category"].items()},
        }
    )
    mlflow.log_dict(report, f"evaluation/{prefix}.json")
    mlflow.log_figure(plot_confusion(report, f"Confusion matrix ({prefix})"), f"plots/{prefix}_confusion.png")
    mlflow.log_figure(plot_reliability(report, f"Reliability ({prefix})"), f"plots/{prefix}_reliability.png")


def _log_signals(classifier: TicketClassifier, test: Any) -> dict[str, Any]:
    """Log each learned signal's threshold and its precision and recall on validation and holdout families."""
    from pipeline.signals import signal_figures, signal_truth

    head = classifier.signal_head
    holdout = signal_figures(
        classifier.predict_signals(test["text"].tolist()), signal_truth(test["intent"], head.names), head
    )
    figures = {"recall_target": head.info["recall_target"], "thresholds": head.thresholds,
               "validation": head.info["validation"], "holdout": holdout}  # fmt: skip
    metrics = {f"signal_{name}_threshold": value for name, value in head.thresholds.items()}
    for part in ("validation", "holdout"):
        for name, row in figures[part].items():
            metrics[f"{part}_signal_{name}_precision"] = row["precision"]
            metrics[f"{part}_signal_{name}_recall"] = row["recall"]
    mlflow.log_metrics(metrics)
    mlflow.log_dict(figures, "training/signals.json")
    return figures


def _log_data(dataset: Dataset, data_path: Path) -> None:
    """Log the data report (JSON and text) and its headline figures to the active run."""
    report = dataset.report
    split, feedback = dataset.split, report["feedback"]
    mlflow.log_params(
        {
            "data_path": str(data_path),
            "data_sha256": file_sha256(data_path),
            "n_train": len(split.train),
            "n_val": len(split.val),
            "n_test": len(split.test),
            "package_version": package_version(),
            "split": report["split"]["method"],
            "feedback_used_for_training": feedback["used_for_training"],
        }
    )
    mlflow.log_metrics(
        {
            "data_rows_read": report["rows_read"],
            "data_rows_dropped": report["rows_dropped"],
            "data_duplicate_groups": report["duplicates"]["exact_groups"] + report["duplicates"]["near_groups"],
            "feedback_used": sum(feedback["trained_per_category"].values()),
            "feedback_in_test": feedback["in_test"],
            **{f"feedback_used_{c}": n for c, n in feedback["trained_per_category"].items()},
        }
    )
    mlflow.log_dict(report, "data/report.json")
    mlflow.log_text(dataset.text(), "data/report.txt")


def gate(candidate: TicketClassifier, texts: list[str], labels: list[str], settings: Settings, force: bool) -> GateResult:
    """Compare the candidate with the current champion on the same holdout tickets.

    Args:
        candidate: the newly trained classifier.
        texts: holdout texts of this run.
        labels: their true categories.
        settings: registry name and alias.
        force: promote whatever the scores.

    Returns:
        Whether the candidate should take the alias.
    """
    from serving.model.loader import load_model, resolve_version

    candidate_score = f1_score(labels, [p.category for p in candidate.predict(texts)], average="macro")
    current = resolve_version(settings)
    if current is None:
        return GateResult(True, candidate_score, None, None, "no champion yet")
    champion = load_model(f"models:/{settings.model_name}/{current}", settings)
    champion_score = f1_score(labels, [p.category for p in champion.predict(texts)], average="macro")
    if force:
        return GateResult(True, candidate_score, champion_score, current, "forced")
    if candidate_score >= champion_score:
        return GateResult(True, candidate_score, champion_score, current, "at least as good as the champion")
    return GateResult(False, candidate_score, champion_score, current, "worse than the champion")


def run_training(
    settings: Settings,
    data_path: Path | None = None,
    *,
    force: bool = False,
    grid: dict[str, list[Any]] | None = None,
    external_path: Path | None = None,
    options: DataOptions = DataOptions(),
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train, evaluate, log and register one model; move the champion alias if it passes the gate.

    Args:
        settings: tracking URI, model name, seed, precision target, paths, corrections database.
        data_path: labelled training tickets; ``settings.data_path`` when None.
        force: promote even if the candidate is worse than the champion.
        grid: search grid for ``train_classifier``.
        external_path: external evaluation set; ``settings.external_eval_path`` when None (skipped if absent).
        options: column and label mapping, corrections and sample top-up (``triage train`` flags).
        echo: called with the data report's text before training starts (``triage train`` prints it).

    Returns:
        A summary: run id, version, parameters, data report, holdout and external figures, gate decision.
    """
    data_path = Path(data_path or settings.data_path)
    external_path = Path(external_path or settings.external_eval_path)
    dataset = prepare_dataset(settings, data_path, options)
    if echo is not None:
        echo(dataset.text())
    mlflow.set_tracking_uri(settings.tracking_uri)
    if settings.artifact_root and mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.artifact_root)
    mlflow.set_experiment(EXPERIMENT)
    split = dataset.split
    persona = 0
    if settings.routing_tune_path is not None and data_path.resolve() == SAMPLE_PATH.resolve():
        split, persona = with_persona_tickets(split, settings.routing_tune_path, settings.seed)
    static_path = str(ensure_static_model(settings))

    with mlflow.start_run() as run:
        _log_data(dataset, data_path)
        result = train_classifier(
            split, static_path, seed=settings.seed, precision_target=settings.precision_target, grid=grid,
            signal_recall_target=settings.signal_recall_target, signal_precision_floor=settings.signal_precision_floor,
        )
        classifier = result.classifier
        mlflow.log_params(result.params)  # the chosen features and C, the seed and the precision target
        mlflow.log_param("persona_training_rows", persona)
        mlflow.log_metric("train_seconds", result.seconds)
        mlflow.log_dict({"search": result.search, "thresholds": classifier.thresholds}, "training/search.json")
        # The desk's (or sample's) own rows: the crisis score reads the persona tickets from their file.
        labelled = pd.concat([dataset.split.train, dataset.split.val, dataset.split.test], ignore_index=True)
        if "intent" not in labelled.columns:  # a desk's export: the sample's crisis tickets, on this model's features
            labelled = load_labelled(SAMPLE_PATH)
        crisis = train_crisis_detector(
            classifier, load_examples(labelled, routing=settings.routing_tune_path), ensure_minilm_onnx(settings), seed=settings.seed,
            params=CrisisParams(transformer_share=settings.crisis_transformer_share),
        )
        classifier.crisis = crisis.detector
        mlflow.log_params({f"crisis_{k}": v for k, v in crisis.report["params"].items()})
        mlflow.log_metrics(crisis_metrics(crisis.report))
        mlflow.log_dict(crisis.report, "training/crisis.json")

        test_texts, test_labels = split.test["text"].tolist(), split.test["category"].tolist()
        holdout = classification_report(test_labels, classifier.predict_proba(test_texts))
        _log_report(holdout, "holdout")
        summary: dict[str, Any] = {"run_id": run.info.run_id, "params": result.params, "data": dataset.report, "holdout": holdout,
                                  "persona_rows": persona}
        if classifier.signal_head is not None and "intent" in split.test.columns:
            summary["signals"] = _log_signals(classifier, split.test)
        if external_path.exists():
            external = load_labelled(external_path)
            report = classification_report(external["category"].tolist(), classifier.predict_proba(external["text"].tolist()))
            _log_report(report, "external")
            summary["external"] = report

        classifier.info = {
            "run_id": run.info.run_id,
            "trained_at": datetime.fromtimestamp(run.info.start_time / 1000, tz=timezone.utc).isoformat(),
            "params": result.params,
            "metrics": {
                "holdout_macro_f1": holdout["macro_f1"],
                "holdout_ece": holdout["ece"],
                **({"external_macro_f1": summary["external"]["macro_f1"]} if "external" in summary else {}),
            },
            "thresholds": classifier.thresholds,
            "crisis": classifier.crisis.info,
        }
        if "signals" in summary:
            classifier.info["signal_thresholds"] = summary["signals"]["thresholds"]
        decision = gate(classifier, test_texts, test_labels, settings, force)
        summary["version"] = log_and_register(classifier, settings.model_name)
        mlflow.log_dict(asdict(decision), "training/gate.json")
        mlflow.set_tags({"champion_gate": "promoted" if decision.promoted else "rejected", "gate_reason": decision.reason})
        if decision.promoted:
            promote(settings.model_name, summary["version"], settings.model_alias)
        summary["gate"] = asdict(decision)
    log.info("run %s: %s", summary["run_id"], json.dumps(summary["gate"]))
    return summary
