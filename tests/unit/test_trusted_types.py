"""Loading a model trusts only the types this project's training writes (``TRUSTED_TYPES``), nothing else."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from serving.decision import CATEGORIES
from serving.model.classifier import (
    ESTIMATOR_FILE,
    LEGACY_TYPES,
    TRUSTED_TYPES,
    WRITTEN_TYPES,
    TicketClassifier,
    UntrustedModelError,
)

pytestmark = pytest.mark.slow


def _rename_type(path, module: str, name: str, new_module: str, new_name: str) -> None:
    """Rewrite a skops file so the objects of one type name another type instead."""
    with zipfile.ZipFile(path) as source:
        members = {member: source.read(member) for member in source.namelist()}
    renamed = []

    def walk(node):
        if isinstance(node, dict):
            if (node.get("__module__"), node.get("__class__")) == (module, name):
                node["__module__"], node["__class__"] = new_module, new_name
                renamed.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    schema = json.loads(members["schema.json"])
    walk(schema)
    assert renamed, f"{module}.{name} is not in the file"
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for member, data in members.items():
            target.writestr(member, data)


def test_the_list_is_exactly_what_training_writes(champion, tmp_path):
    import skops.io as sio

    folder = champion.save(tmp_path / "model")
    written = set(sio.get_untrusted_types(file=folder / ESTIMATOR_FILE))
    assert written == set(WRITTEN_TYPES), "training writes other types: update WRITTEN_TYPES on purpose"
    assert TRUSTED_TYPES == set(WRITTEN_TYPES) | set(LEGACY_TYPES)
    assert "serving.features.StaticEmbedder" in TRUSTED_TYPES  # models saved before the serving/model/ move
    assert TicketClassifier.load(folder).predict_one("I cannot log in").category == champion.predict_one("I cannot log in").category


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("builtins", "exec"), ("os", "system")])
def test_a_model_file_naming_another_type_is_refused(champion, tmp_path, module, name):
    folder = champion.save(tmp_path / "model")
    _rename_type(folder / ESTIMATOR_FILE, "sklearn.calibration", "_TemperatureScaling", module, name)
    with pytest.raises(UntrustedModelError, match=rf"never writes.*: {module}\.{name}$") as caught:
        TicketClassifier.load(folder)
    assert "log in" not in str(caught.value)


def test_an_estimator_with_a_type_training_never_writes_is_refused(tmp_path):
    texts = [f"{c} question number {i}" for c in CATEGORIES for i in range(6)]
    labels = [c for c in CATEGORIES for _ in range(6)]
    # Sigmoid calibration writes sklearn.calibration._SigmoidCalibration, which is not on the list.
    estimator = CalibratedClassifierCV(make_pipeline(TfidfVectorizer(), LogisticRegression()), method="sigmoid", cv=2)
    estimator.fit(texts, np.asarray(labels))
    folder = TicketClassifier(estimator, dict.fromkeys(CATEGORIES, 0.5)).save(tmp_path / "model")
    with pytest.raises(UntrustedModelError, match=r"sklearn\.calibration\._SigmoidCalibration"):
        TicketClassifier.load(folder)
