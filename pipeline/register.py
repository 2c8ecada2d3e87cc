"""The MLflow registry: log the pyfunc, register a version, move ``@champion`` only past the gate."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from serving.model.classifier import TicketClassifier
import serving.model
from serving.model.pyfunc import CLASSIFIER_ARTIFACT, INPUT_EXAMPLE, model_signature

log = logging.getLogger(__name__)

# Models from code: MLflow stores this file instead of a pickled PythonModel, so nothing in the model is pickled.
PYFUNC_ENTRY = Path(serving.model.__file__).parent / "pyfunc_entry.py"
PIP_REQUIREMENTS = [
    "mlflow>=3.7", "scikit-learn>=1.6", "skops>=0.11", "model2vec>=0.6", "pandas>=2.2", "numpy>=2.0",
    "dateparser>=1.2", "pydantic-settings>=2.3", "onnxruntime>=1.20", "tokenizers>=0.20",
]


def next_version(client: MlflowClient, name: str) -> str:
    """The version number the registry will give the next registration of ``name``."""
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return "1"
    return str(1 + max((int(v.version) for v in versions), default=0))


def log_and_register(classifier: TicketClassifier, name: str) -> str:
    """Log the classifier as a pyfunc in the active run and register it.

    The version number is written into the model's config, so every surface reports the version
    that produced a decision without asking the registry.

    Args:
        classifier: the trained classifier.
        name: registered model name.

    Returns:
        The new version.
    """
    client = MlflowClient()
    version = next_version(client, name)
    classifier.version = version
    with TemporaryDirectory() as tmp:
        folder = classifier.save(Path(tmp) / CLASSIFIER_ARTIFACT)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_ENTRY),
            artifacts={CLASSIFIER_ARTIFACT: str(folder)},
            signature=model_signature(),
            input_example=INPUT_EXAMPLE,
            pip_requirements=PIP_REQUIREMENTS,
            model_config={"model_version": version},
            registered_model_name=name,
        )
    registered = str(info.registered_model_version)
    if registered != version:
        raise RuntimeError(f"registry gave version {registered}, expected {version}: another run registered at the same time")
    return version


def promote(name: str, version: str, alias: str = "champion") -> None:
    """Point the alias at a version."""
    client = MlflowClient()
    client.get_model_version(name, version)  # fails clearly when the version does not exist
    client.set_registered_model_alias(name, alias, version)


@dataclass(frozen=True)
class GateResult:
    """Whether the candidate took the alias, and the figures that decided it."""

    promoted: bool
    candidate_score: float
    champion_score: float | None
    champion_version: str | None
    reason: str
