"""Group exact and near-duplicate ticket texts, so that copies never fall on both sides of a split.

Clients resend the same message, sometimes with a greeting added, a typo fixed or a signature. Two
texts are **exact** duplicates when they are equal after ``normalize_text`` (case, whitespace,
punctuation and digits do not count). Two different normalised texts are **near** duplicates when the
Jaccard similarity of their character 5-gram sets is at least ``NEAR_THRESHOLD``, found with
datasketch's MinHash LSH and confirmed on the MinHash estimate. Groups are the connected components of
both relations (scipy), so a chain of near copies is one group.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

NEAR_THRESHOLD = 0.7
NUM_PERM = 128
SHINGLE = 5
_DIGITS = re.compile(r"\d+")
_NON_WORD = re.compile(r"[^\w\s]|_")


def normalize_text(text: str) -> str:
    """The form in which two texts count as the same message.

    Unicode compatibility forms folded (NFKC), case folded, every run of digits one ``0`` (dates,
    amounts and ticket numbers differ between resends), punctuation removed, whitespace collapsed.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _NON_WORD.sub(" ", _DIGITS.sub("0", text))
    return " ".join(text.split())


def text_key(text: str) -> str:
    """A short stable id of a normalised text (names a duplicate group whatever the row order)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _shingles(text: str) -> list[bytes]:
    data = text.encode("utf-8")
    if len(data) <= SHINGLE:
        return [data]
    return list({data[i : i + SHINGLE] for i in range(len(data) - SHINGLE + 1)})


@dataclass(frozen=True)
class Duplicates:
    """Duplicate groups of a list of texts.

    Attributes:
        group: per text, the name of its group (``dup/<key>``, the key of the group's first normalised
            text in sorted order, so the same texts give the same names in any order).
        normalized: per text, its normalised form (corrections match texts on it).
        exact_groups: groups of two or more texts equal after normalisation.
        near_groups: groups that join two or more different normalised texts.
        rows_in_groups: texts that share their group with at least one other.
        largest: rows in the largest group.
    """

    group: np.ndarray
    normalized: np.ndarray
    exact_groups: int
    near_groups: int
    rows_in_groups: int
    largest: int

    def report(self) -> dict[str, int]:
        """The figures of the data report."""
        return {
            "exact_groups": self.exact_groups,
            "near_groups": self.near_groups,
            "rows_in_duplicate_groups": self.rows_in_groups,
            "largest_group": self.largest,
        }


def group_duplicates(
    texts: list[str], threshold: float = NEAR_THRESHOLD, num_perm: int = NUM_PERM, normalized: list[str] | None = None
) -> Duplicates:
    """Group exact and near-duplicate texts.

    Args:
        texts: the ticket texts.
        threshold: Jaccard similarity of character 5-gram sets from which two texts are near copies.
        num_perm: MinHash permutations (more: a finer similarity estimate, slower).
        normalized: ``normalize_text`` of each text, when the caller has it already.

    Returns:
        The groups and their counts.
    """
    from datasketch import MinHash, MinHashLSH
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if normalized is None:
        normalized = [normalize_text(t) for t in texts]
    normalized = np.asarray(normalized, dtype=object)
    # Exact groups first: LSH only sees each distinct normalised text once.
    codes, unique = pd.factorize(normalized, sort=True)
    unique = unique.to_numpy(dtype=object) if hasattr(unique, "to_numpy") else np.asarray(unique, dtype=object)
    n = len(unique)
    # crc32: a fast, deterministic 32-bit hash of each shingle (datasketch's default, SHA-1, is 3x slower here).
    sketches = MinHash.bulk((_shingles(t) for t in unique), num_perm=num_perm, hashfunc=zlib.crc32)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    with lsh.insertion_session() as session:
        for i, sketch in enumerate(sketches):
            session.insert(i, sketch, check_duplication=False)
    left, right = [], []
    for i, sketch in enumerate(sketches):
        for j in lsh.query(sketch):
            if j > i and sketch.jaccard(sketches[j]) >= threshold:
                left.append(i)
                right.append(j)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    # Name each component after its first normalised text (``unique`` is sorted): order-independent.
    first = pd.Series(np.arange(n)).groupby(component).transform("min").to_numpy()
    names = np.array([f"dup/{text_key(unique[i])}" for i in range(n)], dtype=object)[first]
    group = names[codes]

    rows_per_exact = np.bincount(codes, minlength=n)
    rows_per_group = pd.Series(group).value_counts()
    texts_per_component = np.bincount(component)
    return Duplicates(
        group=group,
        normalized=normalized,
        exact_groups=int((rows_per_exact > 1).sum()),
        near_groups=int((texts_per_component > 1).sum()),
        rows_in_groups=int(rows_per_group[rows_per_group > 1].sum()),
        largest=int(rows_per_group.max()) if len(rows_per_group) else 0,
    )
