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
from serving.model.heads import SignalHead
from serving.rules.crisis import matching_rules

ESTIMATOR_FILE = "estimator.skops"
META_FILE = "classifier.json"

# The types beyond skops' own trusted list that this project's training writes, exactly; a model file
# naming any other type is refused. tests/unit/test_trusted_types.py trains, saves and compares with
# skops, so a training change that writes a new type fails until the type is added here on purpose.
WRITTEN_TYPES: tuple[str, ...] = (
    "serving.model.features.StaticEmbedder",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
)
# Types that models saved by earlier versions of the project name (before the serving/model/ move).
LEGACY_TYPES: tuple[str, ...] = ("serving.features.StaticEmbedder",)
TRUSTED_TYPES: frozenset[str] = frozenset(WRITTEN_TYPES + LEGACY_TYPES)


class UntrustedModelError(ValueError):
    """A model file names a type this project never writes: loading it could run arbitrary code."""


@dataclass
class TicketClassifier:
    """A fitted scikit-learn estimator plus the thresholds below which a prediction needs review.

    Attributes:
        estimator: fitted, with ``predict_proba`` and ``classes_`` equal to the contract's categories.
        thresholds: category -> minimum confidence for an automatic decision.
        version: the registered model version ("unregistered" before registration).
        info: training facts shown by the API (trained_at, metrics, run_id).
        signal_head: the learned routing signals on the estimator's own features; None for a model
            trained without one (the rules then read the text patterns).
        crisis: the learned crisis score on the same features (signal ``"crisis"``); None for a model
            trained without one (the crisis patterns alone then decide).
    """

    estimator: Any
    thresholds: dict[str, float]
    version: str = "unregistered"
    info: dict[str, Any] = field(default_factory=dict)
    signal_head: SignalHead | None = None
    crisis: CrisisDetector | None = None

    def __post_init__(self) -> None:
        classes = [str(c) for c in self.estimator.classes_]
        # Columns of predict_proba in the contract's category order, whatever order the estimator uses.
        self._order = np.array([classes.index(c) for c in CATEGORIES])
        self._threshold_vector = np.array([self.thresholds.get(c, 0.0) for c in CATEGORIES])
        self._parts = _linear_parts(self.estimator)
        for name in ("signal_head", "crisis"):
            if getattr(self, name) is not None and self._parts is None:
                raise ValueError(f"{name}: needs an estimator trained by pipeline.train (feature union + logistic regression)")
        # The category weights with the signal head's stacked under them: one product per feature block
        # gives both. Cut into blocks (and made contiguous) at the first call, when the widths are known.
        if self._parts is not None:
            coef = self._parts[1].coef_
            self._coef = coef if self.signal_head is None else np.vstack([coef, self.signal_head.coef])
        self._blocks: list[np.ndarray] | None = None
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
        return self._scores(texts)[0]

    def predict_signals(self, texts: Sequence[str]) -> np.ndarray | None:
        """Signal probabilities, one row per text, columns in ``signal_head.names`` order; None without a head."""
        return self._scores(texts)[1]

    def predict_crisis(self, texts: Sequence[str]) -> np.ndarray | None:
        """Whether crisis detection (patterns and the learned score) flags each text; None without a learned score."""
        return self._scores(texts, crisis=True)[2]

    def _scores(self, texts: Sequence[str], crisis: bool = False) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Category probabilities, signal probabilities (None without a head) and, when ``crisis`` is
        asked for and the model has the learned score, the crisis verdict (patterns and score), from one
        feature pass."""
        head = self.signal_head
        if len(texts) == 0:
            return np.zeros((0, len(CATEGORIES))), None if head is None else np.zeros((0, len(head.names))), None
        texts = list(texts)
        if self._parts is None:
            with self._lock:
                return np.asarray(self.estimator.predict_proba(texts))[:, self._order], None, None
        features = self.features(texts)
        flags = None
        if crisis and self.crisis is not None:
            flags = self.crisis.flags(texts, features, [matching_rules(t) for t in texts], self.features)
        _, model, beta = self._parts
        logits = sum(_row_dot(f, w) for f, w in zip(features, self._block_weights(features)))
        n_categories = len(model.classes_)
        proba = _softmax(logits[:, :n_categories], model.intercept_, beta)[:, self._order]
        if head is None:
            return proba, None, flags
        return proba, _row_dot(_softmax(logits[:, n_categories:], head.intercept, head.beta), head.members), flags

    def _block_weights(self, features: list[Any]) -> list[np.ndarray]:
        """Each feature block's weights as ``_row_dot`` takes them: (outputs x width) for a dense block,
        (width x outputs) for a sparse one, both C-contiguous and made once."""
        if self._blocks is None:
            bounds = np.cumsum([0, *(f.shape[1] for f in features)])
            self._blocks = [
                np.ascontiguousarray(self._coef[:, a:b] if isinstance(f, np.ndarray) else self._coef[:, a:b].T)
                for f, a, b in zip(features, bounds[:-1], bounds[1:])
            ]
        return self._blocks

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One ``Prediction`` per text, with the signals of the head and the crisis score (empty without them)."""
        proba, signal_proba, crisis = self._scores(texts, crisis=True)
        best = proba.argmax(axis=1)
        confidence = proba[np.arange(len(best)), best]
        uncertain = confidence < self._threshold_vector[best]
        if signal_proba is None:
            fired: Any = ({} for _ in range(len(best)))
        else:
            names = self.signal_head.names
            fired = (dict(zip(names, row)) for row in (signal_proba >= self.signal_head.threshold_vector).tolist())
        if crisis is not None:
            fired = ({**s, "crisis": bool(c)} for s, c in zip(fired, crisis))
        return [
            Prediction(
                category=CATEGORIES[b],
                confidence=float(c),
                probabilities=dict(zip(CATEGORIES, map(float, row))),
                uncertain=bool(u),
                model_version=self.version,
                signals=s,
            )
            for b, c, u, row, s in zip(best, confidence, uncertain, proba.tolist(), fired)
        ]

    def predict_one(self, text: str) -> Prediction:
        """The prediction for a single text."""
        return self.predict([text])[0]

    def save(self, folder: Path) -> Path:
        """Write the estimator (skops, no pickle), the thresholds, the signal head and the crisis score to ``folder``."""
        import skops.io as sio

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sio.dump(self.estimator, folder / ESTIMATOR_FILE)
        meta = {"thresholds": self.thresholds, "version": self.version, "info": self.info}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        if self.signal_head is not None:
            self.signal_head.save(folder)
        if self.crisis is not None:
            self.crisis.save(folder / CRISIS_DIR)
        return folder

    @classmethod
    def load(cls, folder: Path, version: str | None = None) -> "TicketClassifier":
        """Read a classifier written by ``save``, trusting beyond skops' defaults only ``TRUSTED_TYPES``.

        Raises:
            UntrustedModelError: when the estimator file names any other type; nothing in it is loaded.
        """
        sio = _import_skops()

        folder = Path(folder)
        path = folder / ESTIMATOR_FILE
        untrusted = sio.get_untrusted_types(file=path)
        unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
        if unexpected:
            raise UntrustedModelError(
                f"model: {ESTIMATOR_FILE} names types this project never writes, so it is not loaded: {', '.join(unexpected)}"
            )
        estimator = sio.load(path, trusted=untrusted)
        meta = json.loads((folder / META_FILE).read_text())
        crisis = folder / CRISIS_DIR
        return cls(
            estimator=estimator,
            thresholds=meta["thresholds"],
            version=version or meta.get("version", "unregistered"),
            info=meta.get("info", {}),
            signal_head=SignalHead.load(folder),
            crisis=CrisisDetector.load(crisis) if crisis.is_dir() else None,
        )


def _row_dot(features: Any, weights: np.ndarray) -> np.ndarray:
    """The features times the weights, with rows that do not depend on the other rows of the batch.

    BLAS sums a row differently in a 1-row and a 1000-row product, so the API and batch scoring would
    disagree in the last bits. A dense ``einsum`` without BLAS takes each output as one dot product of
    two contiguous rows (``weights`` is C-contiguous, one row per output column): the same sum for a
    row alone or in a batch, and several times faster than ``"ij,jk->ik"``, which strides through the
    weights. CSR products (sparse features) sum row by row; their weights come transposed and
    C-contiguous, since scipy copies any other layout into that one on every call (about 1 ms per
    ticket for the word-pair vocabulary, measured on the API path).

    Args:
        features: (texts x width), dense or CSR.
        weights: dense features: (outputs x width); CSR: (width x outputs); C-contiguous.

    Returns:
        (texts x outputs).
    """
    if isinstance(features, np.ndarray):
        return np.einsum("ij,kj->ik", features, weights, optimize=False)
    return np.asarray(features @ weights)


def _softmax(logits: np.ndarray, intercept: np.ndarray, beta: float) -> np.ndarray:
    """scikit-learn's temperature-scaled multinomial probabilities: softmax of ``beta * (logits + intercept)``."""
    z = beta * (logits + intercept)
    z -= z.max(axis=1, keepdims=True)
    proba = np.exp(z)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba


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
