"""Fit the ticket classifier: features + logistic regression, a seeded search, calibration, thresholds."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits

from pipeline.data import Split
from pipeline.signals import train_signal_head
from serving.model.classifier import TicketClassifier
from serving.decision import CATEGORIES
from serving.model.features import StaticEmbedder

log = logging.getLogger(__name__)

FEATURE_SETS: tuple[str, ...] = ("static", "static+tfidf", "tfidf")
DEFAULT_GRID: dict[str, list[Any]] = {"features": ["static", "static+tfidf"], "C": [4.0, 16.0, 64.0]}
# Past this many training tickets the grid is searched on a stratified sample of this size and only the
# winner is fitted on all of them: the ranking of six grid points settles long before 140,000 tickets,
# and the search would otherwise be most of the run (200,000-ticket benchmark in the README).
SEARCH_ROWS = 40_000


def build_pipeline(features: str, C: float, static_path: str, seed: int) -> Pipeline:
    """The scikit-learn pipeline for one point of the search.

    Args:
        features: one of ``FEATURE_SETS``: static embeddings, word TF-IDF, or both stacked.
        C: inverse regularisation strength of the logistic regression.
        static_path: folder of the distilled static model.
        seed: random seed of the solver.

    Returns:
        An unfitted pipeline from raw texts to class probabilities.
    """
    if features not in FEATURE_SETS:
        raise ValueError(f"features: expected one of {FEATURE_SETS}, got {features!r}")
    parts = []
    if "static" in features:
        parts.append(("static", StaticEmbedder(model_path=static_path)))
    if "tfidf" in features:
        parts.append(
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True, max_features=50_000))
        )
    return Pipeline(
        [
            ("features", FeatureUnion(parts)),
            ("model", LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed)),
        ]
    )


def plain_vocabularies(union: FeatureUnion) -> FeatureUnion:
    """Make each fitted TF-IDF vocabulary map to Python ints instead of numpy ints, in place.

    scikit-learn leaves numpy integers there, and skops writes each one as its own ``.npy`` file:
    18,903 files for the sample's vocabulary, which took 5.6 s to load in every scoring process.
    Python ints are stored in the schema itself (1.6 s). The mapping's meaning is unchanged.
    """
    for _, transformer in union.transformer_list:
        if isinstance(transformer, TfidfVectorizer):
            transformer.vocabulary_ = {term: int(index) for term, index in transformer.vocabulary_.items()}
    return union


def choose_thresholds(proba: np.ndarray, y_true: np.ndarray, precision_target: float) -> dict[str, float]:
    """Per category, the lowest confidence at which automatic decisions reach the precision target.

    Predictions of a category with confidence at or above its threshold are taken as they are; those
    below it get ``needs_review``. A category that never reaches the target gets a threshold of 1.0
    (everything reviewed).

    Args:
        proba: calibrated validation probabilities, columns in ``CATEGORIES`` order.
        y_true: true validation labels.
        precision_target: wanted precision of the automatic decisions of each category.

    Returns:
        category -> threshold.
    """
    pred = np.asarray(CATEGORIES)[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    thresholds: dict[str, float] = {}
    for category in CATEGORIES:
        mask = pred == category
        conf, correct = confidence[mask], (y_true[mask] == category)
        chosen = 1.0
        for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
            kept = conf >= t
            if kept.any() and correct[kept].mean() >= precision_target:
                chosen = float(t)
                break
        thresholds[category] = chosen
    return thresholds


def search_sample(train: pd.DataFrame, seed: int, rows: int = SEARCH_ROWS) -> pd.DataFrame:
    """The training tickets the grid is searched on: all of them, or a seeded sample stratified by category.

    Args:
        train: the training split.
        seed: the run's seed.
        rows: most tickets to search on.

    Returns:
        ``train`` itself when it is small enough, else about ``rows`` of its rows, in their original order.
    """
    if len(train) <= rows:
        return train
    share = rows / len(train)
    picked = train.groupby("category", group_keys=False).sample(frac=share, random_state=seed)
    return train.loc[train.index.isin(picked.index)]


def sample_signal_head(union: Any, **targets: Any) -> Any:
    """The signal head learned from the bundled sample's intents, on ``union``'s features (fitted on other data).

    Args:
        union: the fitted feature union of the model being trained.
        **targets: ``recall_target``, ``precision_floor`` and ``seed`` of ``train_signal_head``.

    Returns:
        The head, or None when the sample cannot be read.
    """
    from pipeline.data import SAMPLE_PATH, load_labelled, split_by_family

    sample = split_by_family(load_labelled(SAMPLE_PATH), seed=targets["seed"])
    return train_signal_head(
        union.transform(sample.train["text"].tolist()), sample.train["intent"],
        union.transform(sample.val["text"].tolist()), sample.val["intent"], **targets,
    )  # fmt: skip


@dataclass
class TrainResult:
    """What training produced: the classifier, the chosen parameters and the search log."""

    classifier: TicketClassifier
    params: dict[str, Any]
    search: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def train_classifier(
    split: Split,
    static_path: str,
    *,
    seed: int,
    precision_target: float,
    grid: dict[str, list[Any]] | None = None,
    signal_recall_target: float = 0.95,
    signal_precision_floor: float = 0.5,
) -> TrainResult:
    """Search the grid on the validation families, calibrate the winner and tune its thresholds.

    With an ``intent`` column, the routing signals are learned too, on the winner's own features
    (``pipeline.signals``).

    Args:
        split: family-disjoint train/val/test frames with ``text`` and ``category`` (and ``intent``).
        static_path: folder of the distilled static model.
        seed: random seed; the same seed and data give the same model.
        precision_target: precision wanted from automatic (not reviewed) decisions per category.
        grid: ``features`` and ``C`` values to try; ``DEFAULT_GRID`` when None.
        signal_recall_target: share of validation positives each learned signal must find.
        signal_precision_floor: least validation precision a signal's threshold may cost (both defaults
            are those of ``Settings``).

    Returns:
        The calibrated classifier (not yet registered) and what was tried.
    """
    started = time.perf_counter()
    grid = grid or DEFAULT_GRID
    x_train, y_train = split.train["text"].tolist(), split.train["category"].to_numpy()
    x_val, y_val = split.val["text"].tolist(), split.val["category"].to_numpy()
    searched = search_sample(split.train, seed)
    x_search, y_search = searched["text"].tolist(), searched["category"].to_numpy()
    search, best, best_f1 = [], None, -1.0
    # One BLAS thread: with two, lbfgs spent most of its time in thread hand-offs on this 2-core
    # machine (measured 20 s against 1.4 s for the same fit).
    with threadpool_limits(limits=1):
        for features in grid["features"]:
            # The features do not depend on C: fit them once per feature set, then only the model per C.
            union = plain_vocabularies(build_pipeline(features, 1.0, static_path, seed).named_steps["features"].fit(x_search))
            f_search, f_val = union.transform(x_search), union.transform(x_val)
            for C in grid["C"]:
                model = build_pipeline(features, C, static_path, seed).named_steps["model"].fit(f_search, y_search)
                score = f1_score(y_val, model.predict(f_val), average="macro")
                search.append({"features": features, "C": C, "val_macro_f1": float(score)})
                log.info("features=%s C=%s val macro-F1 %.4f", features, C, score)
                if score > best_f1:
                    best, best_f1 = (features, C, Pipeline([("features", union), ("model", model)]), f_search, f_val), score
        features, C, pipeline, f_train, f_val = best
        if len(searched) < len(split.train):
            log.info("fitting features=%s C=%s on all %d training tickets", features, C, len(x_train))
            pipeline = build_pipeline(features, C, static_path, seed)
            f_train = pipeline.named_steps["features"].fit_transform(x_train)
            plain_vocabularies(pipeline.named_steps["features"])
            pipeline.named_steps["model"].fit(f_train, y_train)
            f_val = pipeline.named_steps["features"].transform(x_val)
        # Temperature scaling on families the model never saw keeps the ranking and fixes over-confidence.
        # A frozen model needs no folds: one "split" whose test part is all of val fits the temperature
        # on every validation ticket (the default 5-fold split fails on small validation sets).
        # The temperature is fitted on the training data's own validation tickets (not the persona
        # tickets added to validation for the signal head), the distribution the champion gate judges.
        own = ~split.val["persona"].to_numpy(dtype=bool) if "persona" in split.val.columns else np.ones(len(x_val), bool)
        x_own, y_own = [t for t, keep in zip(x_val, own, strict=True) if keep], y_val[own]
        everything = np.arange(len(x_own))
        calibrated = CalibratedClassifierCV(
            FrozenEstimator(pipeline), method="temperature", cv=[(everything, everything)]
        ).fit(x_own, y_own)
        val_proba = TicketClassifier(estimator=calibrated, thresholds={}).predict_proba(x_val)
        targets = {"recall_target": signal_recall_target, "precision_floor": signal_precision_floor, "seed": seed}
        head, head_source = None, "training data"
        if "intent" in split.train.columns and "intent" in split.val.columns:
            head = train_signal_head(f_train, split.train["intent"], f_val, split.val["intent"], **targets)
        if head is None:
            # A desk export without intents: learn the signals from the sample's intents, on this model's features.
            head, head_source = sample_signal_head(pipeline.named_steps["features"], **targets), "bundled sample"
    classifier = TicketClassifier(
        estimator=calibrated, thresholds=choose_thresholds(val_proba, y_val, precision_target), signal_head=head
    )
    params = {"features": features, "C": C, "precision_target": precision_target, "seed": seed, "search_rows": len(searched),
              "signal_recall_target": signal_recall_target, "signal_precision_floor": signal_precision_floor,
              "signal_head_intents": head_source}  # fmt: skip
    return TrainResult(classifier=classifier, params=params, search=search, seconds=time.perf_counter() - started)

