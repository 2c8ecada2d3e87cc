"""Text features that live inside the scikit-learn pipeline and travel with the registered model."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class StaticEmbedder(TransformerMixin, BaseEstimator):
    """Sentence vectors from a model2vec static embedding model (distilled from all-MiniLM-L6-v2).

    ``fit`` copies the vectors and the tokenizer into the estimator, so a saved pipeline needs no
    model files at serving time.

    Parameters
    ----------
    model_path : str
        Folder of a saved model2vec ``StaticModel``.
    """

    def __init__(self, model_path: str = "") -> None:
        self.model_path = model_path

    def fit(self, X: Any = None, y: Any = None) -> "StaticEmbedder":
        """Load the static model from ``model_path`` and keep its parts as fitted attributes."""
        from model2vec import StaticModel

        model = StaticModel.from_pretrained(self.model_path)
        self.vectors_ = np.asarray(model.embedding)
        self.tokenizer_json_ = model.tokenizer.to_str()
        self.normalize_ = bool(model.normalize)
        self._model = model
        return self

    def _static_model(self):
        model = getattr(self, "_model", None)
        if model is None:
            from model2vec import StaticModel
            from tokenizers import Tokenizer

            model = StaticModel(
                vectors=self.vectors_,
                tokenizer=Tokenizer.from_str(self.tokenizer_json_),
                normalize=self.normalize_,
            )
            self._model = model
        return model

    def transform(self, X: Any) -> np.ndarray:
        """Encode texts into float32 vectors, one row per text."""
        texts = [str(x) for x in X]
        # No multiprocessing: scoring already runs one process per core, and model2vec would start a
        # process pool of its own inside each for batches over 10,000 texts.
        model = self._static_model()
        return model.encode(texts, show_progress_bar=False, use_multiprocessing=False).astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"static{i}" for i in range(self.vectors_.shape[1])], dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        # The rebuilt model2vec object is a cache; the arrays and tokenizer JSON are the state.
        state = self.__dict__.copy()
        state.pop("_model", None)
        return state
