"""One tracked training run: data -> fit -> evaluate (holdout and external) -> log -> register -> gate."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import mlflow
from sklearn.metrics import f1_score

from pipeline.crisis import crisis_metrics, ensure_minilm_onnx, load_examples, train_crisis_detector
from pipeline.data import load_labelled, split_by_family
from pipeline.embeddings import ensure_static_model
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
) -> dict[str, Any]:
    """Train, evaluate, log and register one model; move the champion alias if it passes the gate.

    Args:
        settings: tracking URI, model name, seed, precision target, paths.
        data_path: labelled training tickets; ``settings.data_path`` when None.
        force: promote even if the candidate is worse than the champion.
        grid: search grid for ``train_classifier``.
        external_path: external evaluation set; ``settings.external_eval_path`` when None (skipped if absent).

    Returns:
        A summary: run id, version, parameters, holdout and external figures, gate decision.
    """
    data_path = Path(data_path or settings.data_path)
    external_path = Path(external_path or settings.external_eval_path)
    mlflow.set_tracking_uri(settings.tracking_uri)
    if settings.artifact_root and mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.artifact_root)
    mlflow.set_experiment(EXPERIMENT)
    frame = load_labelled(data_path)
    split = split_by_family(frame, seed=settings.seed)
    static_path = str(ensure_static_model(settings))

    with mlflow.start_run() as run:
        mlflow.log_params(
            {
                "data_path": str(data_path),
                "data_sha256": file_sha256(data_path),
                "n_train": len(split.train),
                "n_val": len(split.val),
                "n_test": len(split.test),
                "package_version": package_version(),
                "split": "by phrasing family",
            }
        )
        result = train_classifier(
            split, static_path, seed=settings.seed, precision_target=settings.precision_target, grid=grid
        )
        classifier = result.classifier
        mlflow.log_params(result.params)  # the chosen features and C, the seed and the precision target
        mlflow.log_metric("train_seconds", result.seconds)
        mlflow.log_dict({"search": result.search, "thresholds": classifier.thresholds}, "training/search.json")
        crisis = train_crisis_detector(
            classifier, load_examples(frame), ensure_minilm_onnx(settings), seed=settings.seed
        )
        classifier.crisis = crisis.detector
        mlflow.log_params({f"crisis_{k}": v for k, v in crisis.report["params"].items()})
        mlflow.log_metrics(crisis_metrics(crisis.report))
        mlflow.log_dict(crisis.report, "training/crisis.json")

        test_texts, test_labels = split.test["text"].tolist(), split.test["category"].tolist()
        holdout = classification_report(test_labels, classifier.predict_proba(test_texts))
        _log_report(holdout, "holdout")
        summary: dict[str, Any] = {"run_id": run.info.run_id, "params": result.params, "holdout": holdout}
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
        decision = gate(classifier, test_texts, test_labels, settings, force)
        summary["version"] = log_and_register(classifier, settings.model_name)
        mlflow.log_dict(asdict(decision), "training/gate.json")
        mlflow.set_tags({"champion_gate": "promoted" if decision.promoted else "rejected", "gate_reason": decision.reason})
        if decision.promoted:
            promote(settings.model_name, summary["version"], settings.model_alias)
        summary["gate"] = asdict(decision)
    log.info("run %s: %s", summary["run_id"], json.dumps(summary["gate"]))
    return summary
