"""The numpy fast paths of duplicate grouping give exactly what datasketch gives, one text at a time."""

from __future__ import annotations

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from pipeline.data import load_labelled
from pipeline.dedup import (
    NEAR_THRESHOLD,
    NUM_PERM,
    minhash_signatures,
    near_duplicate_components,
    normalize_text,
    shingle_hash,
    shingles,
)
from tests.conftest import SAMPLE


def texts() -> list[str]:
    sample = sorted({normalize_text(t) for t in load_labelled(SAMPLE)["text"].head(3000)})
    return ["", "abc", "abcde", "café déjà vu ☕", "x" * 30, *sample]


def test_signatures_equal_datasketchs_minhash():
    corpus = texts()
    signatures = minhash_signatures(corpus, chunk=7)  # several chunks, uneven
    for text, row in zip(corpus, signatures):
        plain = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=shingle_hash)
        plain.update_batch(shingles(text))
        assert (plain.hashvalues == row).all(), text[:20]


def test_banded_components_equal_datasketchs_lsh_index():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    corpus = texts()
    signatures = minhash_signatures(corpus)
    index = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=NUM_PERM)
    sketches = [LeanMinHash(seed=1, hashvalues=row, scheme="affine32") for row in signatures]
    for i, sketch in enumerate(sketches):
        index.insert(i, sketch)
    pairs = [
        (i, j)
        for i, sketch in enumerate(sketches)
        for j in index.query(sketch)
        if j > i and np.mean(signatures[i] == signatures[j]) >= NEAR_THRESHOLD
    ]
    assert len(pairs) > 100
    left, right = np.array(pairs).T
    graph = coo_matrix((np.ones(len(pairs)), (left, right)), shape=(len(corpus), len(corpus)))
    expected = connected_components(graph, directed=False)[1]
    found = near_duplicate_components(signatures, NEAR_THRESHOLD)
    # The same partition (component numbers may differ).
    assert len(set(zip(expected, found))) == len(set(expected)) == len(set(found))
