"""StaticEmbedder's own tokenizing and pooling give exactly model2vec's ``encode``."""

import numpy as np
import pandas as pd
import pytest

from serving.model import features
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow

# Texts where splitting at whitespace could go wrong: control characters BERT deletes, accents it
# strips, CJK it splits, unknown tokens, over-long words and texts past model2vec's cuts.
AWKWARD = [
    "", "   ", "\t\ttab\nnew\r\nline  ", "a\x0bb c\x1fd", "ab\x00cd", "del\x7fete",
    "café naïve Über", "中文字 mixed", "[UNK] zzz", "x" * 9000, "!!!" * 2000, "word " * 700,
    "Appointment TOMORROW @3pm!!! (can't make it)", "e-mail: me@example.com; ref #12-34/56",
]


@pytest.fixture(scope="module")
def embedder(champion):
    union, _, _ = champion._parts
    return dict(union.transformer_list)["static"]


def texts() -> list[str]:
    return pd.read_csv(SAMPLE, dtype=str)["text"].head(2000).tolist() + AWKWARD


def test_transform_equals_model2vec_encode_bit_for_bit(embedder):
    sample = texts()
    expected = embedder._static_model().encode(sample, use_multiprocessing=False).astype(np.float32)
    got = embedder.transform(sample)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(got, expected)
    assert np.array_equal(embedder.transform(sample), expected)  # again, from the piece cache


def test_token_ids_equal_the_tokenizer_on_whole_texts(embedder):
    model = embedder._static_model()
    sample = [t[: model.max_length * model.median_token_length] for t in texts()]
    whole = [e.ids for e in model.tokenizer.encode_batch_fast(sample, add_special_tokens=False)]
    assert embedder.token_ids(sample) == whole


def test_a_text_gets_the_same_vector_alone_and_in_a_batch(embedder):
    sample = texts()
    batch = embedder.transform(sample)
    embedder.__dict__.pop("_pieces", None)  # alone and with an empty cache
    alone = np.vstack([embedder.transform([t]) for t in sample[:50] + AWKWARD])
    assert np.array_equal(alone, np.vstack([batch[:50], batch[-len(AWKWARD):]]))


def test_the_piece_cache_is_emptied_when_full(embedder, monkeypatch):
    monkeypatch.setattr(features, "PIECE_CACHE_LIMIT", 10)
    first, second = texts()[:100], texts()[100:200]
    embedder.transform(first)
    expected = embedder._static_model().encode(second, use_multiprocessing=False).astype(np.float32)
    assert np.array_equal(embedder.transform(second), expected)
    # Only the second call's pieces are left: the first call's were dropped when the limit was passed.
    assert set(embedder.__dict__["_pieces"]) == {p for t in second if t.isascii() for p in t.split()}
    assert "_pieces" not in embedder.__getstate__()


def test_tfidf_transform_equals_scikit_learn_bit_for_bit(champion):
    union, _, _ = champion._parts
    vectorizer = dict(union.transformer_list)["tfidf"]
    sample = texts() + ["ÜBER straße İstanbul", "the the the the", "a"]
    expected = vectorizer.transform(sample)
    got = features.tfidf_transform(vectorizer, sample)
    assert got.has_sorted_indices and got.dtype == expected.dtype
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(got, part), getattr(expected, part)), part


def test_other_vectorizers_go_to_their_own_transform():
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = ["my session is tomorrow", "refund my card", "the app will not load"]
    for vectorizer in (TfidfVectorizer(analyzer="char", ngram_range=(2, 3)), TfidfVectorizer(stop_words=["my"])):
        vectorizer.fit(docs)
        assert (features.transform_texts(vectorizer, docs) != vectorizer.transform(docs)).nnz == 0
