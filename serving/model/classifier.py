"""The trained text classifier with its per-category review thresholds, saved with skops."""

from __future__ import annotations

import importlib.abc
import json
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from serving.decision import CATEGORIES, Prediction
from serving.model.crisis import CRISIS_DIR, CrisisDetector
from serving.model.features import transform_texts
from serving.rules.crisis import detect_crisis

ESTIMATOR_FILE = "estimator.skops"
META_FILE = "classifier.json"


@dataclass
class TicketClassifier:
    """A fitted scikit-learn estimator plus the thresholds below which a prediction needs review.

    Attributes:
        estimator: fitted, with ``predict_proba`` and ``classes_`` equal to the contract's categories.
        thresholds: category -> minimum confidence for an automatic decision.
        version: the registered model version ("unregistered" before registration).
        info: training facts shown by the API (trained_at, metrics, run_id).
        crisis: the learned crisis score on the same features; None for models trained without one.
    """

    estimator: Any
    thresholds: dict[str, float]
    version: str = "unregistered"
    info: dict[str, Any] = field(default_factory=dict)
    crisis: CrisisDetector | None = None

    def __post_init__(self) -> None:
        classes = [str(c) for c in self.estimator.classes_]
        # Columns of predict_proba in the contract's category order, whatever order the estimator uses.
        self._order = np.array([classes.index(c) for c in CATEGORIES])
        self._threshold_vector = np.array([self.thresholds.get(c, 0.0) for c in CATEGORIES])
        self._parts = _linear_parts(self.estimator)
        # model2vec's Rust tokenizer refuses concurrent use ("Already borrowed"): one caller at a time.
        self._lock = threading.Lock()

    def features(self, texts: Sequence[str]) -> list[Any]:
        """The feature blocks of the fitted union (static embeddings, TF-IDF), one row per text.

        Raises:
            ValueError: for an estimator not trained by ``pipeline.train`` (no linear parts to reuse).
        """
        if self._parts is None:
            raise ValueError("model: features are only available for models trained by pipeline.train")
        texts = list(texts)
        with self._lock:
            return [transform_texts(transformer, texts) for _, transformer in self._parts[0].transformer_list]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in ``CATEGORIES`` order."""
        if len(texts) == 0:
            return np.zeros((0, len(CATEGORIES)))
        if self._parts is None:
            with self._lock:
                return np.asarray(self.estimator.predict_proba(list(texts)))[:, self._order]
        return self._proba(self.features(texts))

    def _proba(self, features: list[Any]) -> np.ndarray:
        _, model, beta = self._parts
        logits = sum(_matmul(f, model.coef_[:, start:stop].T) for f, (start, stop) in zip(features, self._slices(features)))
        logits = beta * (logits + model.intercept_)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba[:, self._order]

    def _slices(self, features: list[Any]) -> list[tuple[int, int]]:
        bounds = np.cumsum([0, *(f.shape[1] for f in features)])
        return list(zip(bounds[:-1], bounds[1:]))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One ``Prediction`` per text, with the learned crisis signal when the model has one."""
        texts = list(texts)
        if self.crisis is None or not texts:
            proba, signals = self.predict_proba(texts), [{} for _ in texts]
        else:
            features = self.features(texts)
            proba = self._proba(features)
            # Tickets the patterns flag skip the transformer: routing flags them either way.
            signals = [{"crisis": bool(flag)} for flag in self.crisis.flags(texts, features, detect_crisis)]
        best = proba.argmax(axis=1)
        confidence = proba[np.arange(len(best)), best]
        uncertain = confidence < self._threshold_vector[best]
        return [
            Prediction(
                category=CATEGORIES[b],
                confidence=float(c),
                probabilities=dict(zip(CATEGORIES, map(float, row))),
                uncertain=bool(u),
                model_version=self.version,
                signals=s,
            )
            for b, c, u, row, s in zip(best, confidence, uncertain, proba.tolist(), signals)
        ]

    def predict_one(self, text: str) -> Prediction:
        """The prediction for a single text."""
        return self.predict([text])[0]

    def save(self, folder: Path) -> Path:
        """Write the estimator (skops, no pickle), the thresholds and the crisis detector to ``folder``."""
        import skops.io as sio

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sio.dump(self.estimator, folder / ESTIMATOR_FILE)
        meta = {"thresholds": self.thresholds, "version": self.version, "info": self.info}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        if self.crisis is not None:
            self.crisis.save(folder / CRISIS_DIR)
        return folder

    @classmethod
    def load(cls, folder: Path, version: str | None = None) -> "TicketClassifier":
        """Read a classifier written by ``save``; only this project's own types are trusted beyond skops' defaults."""
        sio = _import_skops()

        folder = Path(folder)
        path = folder / ESTIMATOR_FILE
        untrusted = sio.get_untrusted_types(file=path)
        unexpected = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if unexpected:
            raise ValueError(f"model: refusing to load untrusted types {unexpected}")
        estimator = sio.load(path, trusted=untrusted)
        meta = json.loads((folder / META_FILE).read_text())
        crisis = folder / CRISIS_DIR
        return cls(
            estimator=estimator,
            thresholds=meta["thresholds"],
            version=version or meta.get("version", "unregistered"),
            info=meta.get("info", {}),
            crisis=CrisisDetector.load(crisis) if crisis.is_dir() else None,
        )


def _matmul(features: Any, weights: np.ndarray) -> np.ndarray:
    """``features @ weights`` whose rows do not depend on the other rows of the batch.

    BLAS sums a row differently in a 1-row and a 1000-row product, so the API and batch scoring would
    disagree in the last bits; einsum without BLAS (dense) and CSR products (sparse) sum row by row.
    """
    if isinstance(features, np.ndarray):
        return np.einsum("ij,jk->ik", features, weights, optimize=False)
    return np.asarray(features @ weights)


def _linear_parts(estimator: Any) -> tuple[Any, Any, float] | None:
    """The feature union, logistic regression and inverse temperature of a model trained by ``pipeline.train``.

    Scoring through these parts gives the estimator's own ``predict_proba`` (softmax of the temperature-
    scaled logits, as scikit-learn computes it) without scikit-learn's per-call validation, which costs
    several milliseconds for a single ticket. Any other estimator returns None and is called as it is.
    """
    try:
        (calibrated,) = estimator.calibrated_classifiers_
        (scaler,) = calibrated.calibrators
        pipeline = calibrated.estimator.estimator  # FrozenEstimator -> Pipeline
        union, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
        if calibrated.method != "temperature" or list(model.classes_) != list(estimator.classes_):
            return None
        return union, model, float(scaler.beta_)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


class _SkipTorch(importlib.abc.MetaPathFinder):
    """Makes ``import torch`` fail, for the one import below."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ImportError("PyTorch is not needed to load a ticket-triage model")
        return None


def _import_skops() -> Any:
    """Import ``skops.io`` without PyTorch.

    skops lists trusted types by importing every scikit-learn package, and one of them imports PyTorch
    when it is installed (the ``train`` extra): 210 MiB and 2 s in every scoring process, for nothing.
    pkgutil skips a package whose import fails, so PyTorch is kept out for this one import.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    finder = _SkipTorch()
    sys.meta_path.insert(0, finder)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(finder)
    return skops.io


# Types skops does not trust by default but this project writes itself (scikit-learn and numpy internals).
TRUSTED_PREFIXES: tuple[str, ...] = ("serving.", "sklearn.", "numpy.", "scipy.", "builtins.", "collections.")
