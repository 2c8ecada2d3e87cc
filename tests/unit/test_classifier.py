"""The classifier's fast path gives scikit-learn's own probabilities, and is safe across threads."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow


def test_fast_path_equals_sklearn_predict_proba(champion):
    texts = pd.read_csv(SAMPLE, dtype=str)["text"].head(500).tolist()
    assert champion._parts is not None, "the trained model should take the fast path"
    expected = np.asarray(champion.estimator.predict_proba(texts))[:, champion._order]
    np.testing.assert_allclose(champion.predict_proba(texts), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(champion.predict_proba(texts[:1]), expected[:1], rtol=0, atol=1e-12)


def test_concurrent_callers_get_the_same_answers(champion):
    texts = pd.read_csv(SAMPLE, dtype=str)["text"].head(64).tolist()
    expected = champion.predict_proba(texts)
    with ThreadPoolExecutor(8) as pool:
        rows = list(pool.map(lambda t: champion.predict_proba([t])[0], texts * 4))
    np.testing.assert_allclose(np.vstack(rows), np.vstack([expected] * 4), atol=1e-12)


def test_a_ticket_scores_the_same_alone_and_in_a_batch(champion):
    texts = pd.read_csv(SAMPLE, dtype=str)["text"].head(300).tolist()
    batch = champion.predict_proba(texts)
    alone = np.vstack([champion.predict_proba([t]) for t in texts[:60]])
    assert (batch[:60] == alone).all()  # bit for bit: the API and batch scoring must agree exactly


def test_signal_fast_path_equals_the_plain_computation(champion):
    """The stacked-weights fast path gives the head's own softmax of its logits, summed per signal."""
    from scipy.special import softmax

    texts = pd.read_csv(SAMPLE, dtype=str)["text"].head(300).tolist()
    union, _, _ = champion._parts
    head = champion.signal_head
    logits = np.asarray(union.transform(texts) @ head.coef.T) + head.intercept
    expected = softmax(head.beta * logits, axis=1) @ head.members.T
    np.testing.assert_allclose(champion.predict_signals(texts), expected, rtol=0, atol=1e-12)


def test_row_dot_takes_sparse_weights_transposed_and_gives_the_plain_product():
    """The CSR path takes (width x outputs) weights so scipy copies nothing; the numbers are the plain product's."""
    from scipy import sparse

    from serving.model.classifier import _row_dot

    rng = np.random.default_rng(0)
    x = sparse.random(50, 300, density=0.05, format="csr", random_state=0)
    w = rng.normal(size=(7, 300))
    assert (_row_dot(x, np.ascontiguousarray(w.T)) == np.asarray(x @ w.T)).all()
    dense = x.toarray()
    np.testing.assert_allclose(_row_dot(dense, w), dense @ w.T, rtol=0, atol=1e-12)
