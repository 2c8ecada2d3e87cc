"""The registered MLflow model: a pyfunc whose ``predict`` returns the contract's full decision."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from serving.model.classifier import TicketClassifier
from serving.decision import DECISION_TYPES
from serving.scoring import score_frame
from serving.tickets import EXAMPLE_TICKET, INPUT_FIELDS

CLASSIFIER_ARTIFACT = "classifier"

# The distributions the registered model needs where MLflow loads it (with its code, the ``serving``
# package): what loading and scoring import, and the libraries whose internals the fast paths
# reproduce bit for bit (scikit-learn, model2vec, tokenizers, numpy, scipy), so every one is pinned
# to the version the model was trained and tested with. A new import in scoring code goes here.
MODEL_DISTRIBUTIONS: tuple[str, ...] = (
    "mlflow",
    "scikit-learn",
    "scipy",
    "numpy",
    "model2vec",
    "tokenizers",
    "onnxruntime",  # the learned crisis score's int8 MiniLM layers
    "skops",
    "pandas",
    "pyarrow",
    "dateparser",
    "pydantic",
    "pydantic-settings",
)


def pip_requirements() -> list[str]:
    """``name==version`` for each of ``MODEL_DISTRIBUTIONS``, as installed in this (the training) process.

    Raises:
        RuntimeError: when one of them is not installed, so no model is logged with a guessed version.
    """
    pins = []
    for name in MODEL_DISTRIBUTIONS:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            raise RuntimeError(f"model requirements: {name} is not installed, so its version cannot be pinned") from None
    return pins


class TriageModel(mlflow.pyfunc.PythonModel):
    """Classifier and routing rules in one model, so every MLflow surface gives the API's answers."""

    def load_context(self, context: Any) -> None:
        config = context.model_config or {}
        self.classifier = TicketClassifier.load(
            context.artifacts[CLASSIFIER_ARTIFACT], version=config.get("model_version")
        )

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Score a frame of tickets (contract input columns) into decisions plus an ``error`` column."""
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        return score_frame(self.classifier, model_input)


def model_signature() -> ModelSignature:
    """Input: the contract's ticket fields as strings. Output: the flat decision columns plus ``error``."""
    inputs = Schema(
        [
            ColSpec("string", "ticket_id", required=False),
            ColSpec("string", "text"),
            ColSpec("string", "created_at", required=False),
            ColSpec("string", "appointment_at", required=False),
            ColSpec("string", "awaiting_provider_since", required=False),
            ColSpec("string", "emergency", required=False),
            ColSpec("string", "timezone", required=False),
        ]
    )
    outputs = Schema(
        [
            *(ColSpec(kind, name, required=False) for name, kind in DECISION_TYPES.items()),
            ColSpec("string", "error", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


INPUT_EXAMPLE = pd.DataFrame([{**dict.fromkeys(INPUT_FIELDS), **EXAMPLE_TICKET}])
