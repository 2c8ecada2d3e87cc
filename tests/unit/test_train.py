"""Small pieces of the training module."""

import zipfile

import skops.io as sio
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from pipeline.train import plain_vocabularies

DOCS = ["my session is tomorrow", "refund my card", "the app will not load", "reset my password", "my card was charged twice"]


def test_plain_vocabularies_keep_the_features_and_store_compactly(tmp_path):
    # max_features (as in training) is what leaves numpy ints in the vocabulary.
    union = FeatureUnion([("tfidf", TfidfVectorizer(ngram_range=(1, 2), max_features=20))]).fit(DOCS)
    before = union.transform(DOCS).toarray()
    sio.dump(union, tmp_path / "before.skops")
    numpy_ints = len(zipfile.ZipFile(tmp_path / "before.skops").namelist())

    plain_vocabularies(union)

    vocabulary = union.transformer_list[0][1].vocabulary_
    assert all(type(index) is int for index in vocabulary.values())
    assert (union.transform(DOCS).toarray() == before).all()
    sio.dump(union, tmp_path / "after.skops")
    files = len(zipfile.ZipFile(tmp_path / "after.skops").namelist())
    assert numpy_ints > len(vocabulary) and files < 10  # one .npy per term before, a handful after


def test_search_sample_is_all_of_a_small_split_and_a_stratified_seeded_share_of_a_large_one():
    import pandas as pd

    from pipeline.train import search_sample

    train = pd.DataFrame({"text": [f"t{i}" for i in range(1000)], "category": ["billing"] * 800 + ["account"] * 200})
    assert search_sample(train, seed=1, rows=1000) is train
    picked = search_sample(train, seed=1, rows=100)
    assert picked["category"].value_counts().to_dict() == {"billing": 80, "account": 20}
    assert picked.index.is_monotonic_increasing and picked.equals(search_sample(train, seed=1, rows=100))
