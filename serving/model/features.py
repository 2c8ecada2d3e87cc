"""Text features that live inside the scikit-learn pipeline and travel with the registered model."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

# ASCII control characters other than tab and line breaks: BERT's normaliser deletes them, while
# str.split() treats some of them as spaces, so a text containing one is tokenized whole.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Pieces remembered per process (about 250 bytes each); the cache is emptied when it grows past
# this, so memory stays flat. A million generated tickets have 41,000 distinct ASCII pieces.
PIECE_CACHE_LIMIT = 100_000


class StaticEmbedder(TransformerMixin, BaseEstimator):
    """Sentence vectors from a model2vec static embedding model (distilled from all-MiniLM-L6-v2).

    ``fit`` copies the vectors and the tokenizer into the estimator, so a saved pipeline needs no
    model files at serving time. ``transform`` gives exactly model2vec's ``encode`` (same token ids,
    bit-identical vectors) at a third of its CPU time: see ``token_ids`` and ``mean_vectors``.

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

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """The token ids model2vec's ``encode`` uses for each text, before it drops unknown tokens.

        The BERT tokenizer splits a text at whitespace before anything else, so an ASCII text's
        ids are its whitespace-separated pieces' ids, concatenated. Ticket texts repeat pieces
        ("appointment", "tomorrow,") across thousands of tickets: each new piece is tokenized once
        per process and remembered. Other texts go to the tokenizer whole. The Rust tokenizer
        costs about 110 us of CPU per ticket; a remembered piece costs a dictionary lookup.
        """
        model = self._static_model()
        limit = model.max_length
        cut = None if limit is None else limit * model.median_token_length  # model2vec's cut
        texts = [t[:cut] for t in texts]
        cache: dict[str, list[int]] = self.__dict__.setdefault("_pieces", {})
        if len(cache) > PIECE_CACHE_LIMIT:
            cache.clear()
        split = [t.split() if t.isascii() and _CONTROL.search(t) is None else None for t in texts]
        missing = list({p for pieces in split if pieces is not None for p in pieces if p not in cache})
        if missing:
            for piece, encoding in zip(missing, model.tokenizer.encode_batch_fast(missing, add_special_tokens=False)):
                cache[piece] = encoding.ids
        ids: list[list[int]] = []
        for pieces in split:
            row: list[int] = []
            for piece in pieces or ():
                row += cache[piece]
            if limit is not None and len(row) > limit:
                del row[limit:]
            ids.append(row)
        whole = [i for i, pieces in enumerate(split) if pieces is None]
        if whole:
            encodings = model.tokenizer.encode_batch_fast([texts[i] for i in whole], add_special_tokens=False)
            for i, encoding in zip(whole, encodings):
                ids[i] = encoding.ids
        return ids

    def mean_vectors(self, ids: list[list[int]]) -> np.ndarray:
        """model2vec's pooling, bit for bit: the mean of the known tokens' vectors, then L2-normalised.

        The sums are one sparse (texts x vocabulary) count matrix times the vectors; scipy adds
        each row's vectors in token order in float32, as numpy's float16 mean does, so each row
        depends on its own tokens only.
        """
        model = self._static_model()
        vectors = model.embedding
        n = len(ids)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        if model.unk_token_id is not None:
            keep = flat != model.unk_token_id
            if not keep.all():
                rows = np.repeat(np.arange(n), lengths)
                flat, lengths = flat[keep], np.bincount(rows[keep], minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        counts = sp.csr_matrix((np.ones(len(flat), dtype=np.float32), flat, indptr), shape=(n, len(vectors)))
        sums = np.asarray(counts @ self._vectors32())
        # numpy's mean divides the float32 sums by an integer count (computed in float64).
        mean = np.true_divide(sums, np.maximum(lengths, 1)[:, None], out=sums, casting="unsafe")
        out = mean.astype(vectors.dtype)
        if model.normalize:
            out32 = out.astype(np.float32)
            out = (out32 / (np.linalg.norm(out32, axis=1, keepdims=True) + 1e-32)).astype(vectors.dtype)
        return out

    def _vectors32(self) -> np.ndarray:
        vectors = self.__dict__.get("_float32")
        if vectors is None:
            vectors = self.__dict__["_float32"] = np.asarray(self._static_model().embedding, dtype=np.float32)
        return vectors

    def transform(self, X: Any) -> np.ndarray:
        """Encode texts into float32 vectors, one row per text."""
        texts = [str(x) for x in X]
        if not texts:
            return np.zeros((0, self.vectors_.shape[1]), dtype=np.float32)
        model = self._static_model()
        if model.token_mapping is not None or model.weights is not None:  # quantized vocabularies
            return model.encode(texts, use_multiprocessing=False).astype(np.float32, copy=False)
        return self.mean_vectors(self.token_ids(texts)).astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"static{i}" for i in range(self.vectors_.shape[1])], dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        # The rebuilt model2vec object, the float32 vectors and the piece cache are caches; the
        # arrays and tokenizer JSON are the state.
        state = self.__dict__.copy()
        for cache in ("_model", "_pieces", "_float32"):
            state.pop(cache, None)
        return state


def transform_texts(transformer: Any, texts: list[str]) -> Any:
    """``transformer.transform(texts)``, through ``tfidf_transform`` for a TF-IDF vectorizer."""
    if isinstance(transformer, TfidfVectorizer):
        return tfidf_transform(transformer, texts)
    return transformer.transform(texts)


def tfidf_transform(vectorizer: Any, texts: list[str]) -> Any:
    """A fitted word 1-2-gram ``TfidfVectorizer``'s ``transform``, with the same matrix at half the time.

    scikit-learn counts each document's n-grams in a Python dictionary; here each document's known
    n-gram ids go into one list and scipy sums the duplicates, which gives the same sorted count
    matrix. The TF-IDF weighting is the vectorizer's own. Any other configuration (character
    n-grams, stop words, a custom tokenizer...) is passed to ``vectorizer.transform`` unchanged.
    """
    tfidf = getattr(vectorizer, "_tfidf", None)
    standard = (
        vectorizer.analyzer == "word" and vectorizer.input == "content" and vectorizer.lowercase
        and vectorizer.preprocessor is None and vectorizer.tokenizer is None and vectorizer.strip_accents is None
        and vectorizer.stop_words is None and not vectorizer.binary and tuple(vectorizer.ngram_range) in ((1, 1), (1, 2))
    )  # fmt: skip
    if tfidf is None or not standard:
        return vectorizer.transform(texts)
    findall = vectorizer.build_tokenizer()
    known = vectorizer.vocabulary_.get
    bigrams = vectorizer.ngram_range[1] == 2
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        tokens = findall(text.lower())
        indices += [i for i in map(known, tokens) if i is not None]
        if bigrams:
            indices += [i for i in map(known, map(" ".join, zip(tokens, tokens[1:]))) if i is not None]
        indptr.append(len(indices))
    counts = sp.csr_matrix(
        (np.ones(len(indices), dtype=vectorizer.dtype), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int32)),
        shape=(len(texts), len(vectorizer.vocabulary_)),
    )
    counts.sum_duplicates()  # sorts each row's indices, as scikit-learn's counts are
    return tfidf.transform(counts, copy=False)
