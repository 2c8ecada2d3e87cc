"""Group exact and near-duplicate ticket texts, so that copies never fall on both sides of a split.

Clients resend the same message, sometimes with a greeting added, a typo fixed or a signature. Two
texts are **exact** duplicates when they are equal after ``normalize_text`` (case, whitespace,
punctuation and digits do not count). Two different normalised texts are **near** duplicates when the
Jaccard similarity of their character 5-gram sets is at least ``NEAR_THRESHOLD``, found with
datasketch's MinHash LSH and confirmed on the MinHash estimate (the signatures themselves are computed
in numpy, equal to datasketch's: ``minhash_signatures``). Groups are the connected components of
both relations (scipy), so a chain of near copies is one group.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
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


def normalize_texts(texts: list[str]) -> np.ndarray:
    """``normalize_text`` of each text, computed once per distinct text (resent copies are common)."""
    codes, unique = pd.factorize(pd.Series(texts, dtype=object))
    return np.asarray([normalize_text(t) for t in unique], dtype=object)[codes]


def text_key(text: str) -> str:
    """A short stable id of a normalised text (names a duplicate group whatever the row order)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def shingles(text: str) -> list[bytes]:
    """The distinct 5-byte pieces of a normalised text's UTF-8 (the whole text when shorter)."""
    data = text.encode("utf-8")
    if len(data) <= SHINGLE:
        return [data]
    return list({data[i : i + SHINGLE] for i in range(len(data) - SHINGLE + 1)})


_M64 = (1 << 64) - 1


def shingle_hash(piece: bytes) -> int:
    """32-bit hash of one shingle: its bytes as a little-endian integer through MurmurHash3's 64-bit finalizer.

    The plain version of the vectorised ``_shingle_hashes`` (a test pins them together); given to
    datasketch's ``MinHash(hashfunc=...)`` it gives exactly the signatures of ``minhash_signatures``.
    """
    h = int.from_bytes(piece, "little")
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    h ^= h >> 33
    return h & 0xFFFFFFFF


def _shingle_hashes(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """``shingle_hash`` of every shingle position of every text, and where each text's shingles start.

    Repeated shingles of a text are hashed again rather than removed: a minimum does not change.
    """
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    counts = np.maximum(lengths - SHINGLE + 1, 1)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    buffer = np.frombuffer(b"".join(encoded) + bytes(SHINGLE), dtype=np.uint8)
    offset = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first, counts)
    position = np.repeat(starts, counts) + offset
    width = np.repeat(np.minimum(lengths, SHINGLE), counts)
    h = np.zeros(len(position), dtype=np.uint64)
    for k in range(SHINGLE):
        byte = buffer[position + k].astype(np.uint64)
        h |= np.where(k < width, byte << np.uint64(8 * k), np.uint64(0))
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return (h & np.uint64(0xFFFFFFFF)).astype(np.uint32), first


def _fmix32(h: np.ndarray) -> np.ndarray:
    # MurmurHash3's 32-bit finalizer: the pre-mix datasketch's "affine32" scheme applies to every input hash.
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash_signatures(texts: list[str], num_perm: int = NUM_PERM, seed: int = 1, chunk: int = 500) -> np.ndarray:
    """MinHash signatures of the texts' shingle sets, equal to datasketch's and about 20x faster.

    datasketch's ``MinHash(num_perm, seed, hashfunc=shingle_hash).update_batch(shingles(t))`` per text
    (its default "affine32" scheme: pre-mix, then ``a * h + b`` mod 2^32 with its own permutations), done
    for ``chunk`` texts at a time in numpy; ``tests/unit/test_dedup_signatures.py`` pins the two together.

    Returns:
        One row of ``num_perm`` uint32 hash values per text.
    """
    from datasketch import MinHash

    a, b = (np.asarray(p, dtype=np.uint32) for p in MinHash(num_perm=num_perm, seed=seed).permutations)
    encoded = [t.encode("utf-8") for t in texts]
    signatures = np.empty((len(texts), num_perm), dtype=np.uint32)
    for start in range(0, len(encoded), chunk):
        hashes, first = _shingle_hashes(encoded[start : start + chunk])
        # Permutations along rows, shingles along columns: the minimum then runs over contiguous memory
        # (4x faster here than the transposed layout).
        permuted = np.multiply.outer(a, _fmix32(hashes))
        permuted += b[:, None]
        signatures[start : start + len(first)] = np.minimum.reduceat(permuted, first, axis=1).T
    return signatures


_RUN_SPAN = 8


def near_duplicate_components(signatures: np.ndarray, threshold: float) -> np.ndarray:
    """Connected components of the texts whose signatures collide in an LSH band and agree on ``threshold``.

    The banding of datasketch's ``MinHashLSH`` (its ``b`` bands of ``r`` rows, chosen to balance false
    positives and negatives at ``threshold``), done in numpy: texts whose band is equal are sorted next to
    each other and each is compared with the next ``_RUN_SPAN`` texts of its run; a pair already joined by an
    earlier band is not compared again. The components are those of datasketch's own index followed by the
    same check (``tests/unit/test_dedup_signatures.py``).

    Args:
        signatures: ``minhash_signatures`` of distinct texts.
        threshold: Jaccard similarity a pair's MinHash estimate must reach.

    Returns:
        Per text, its component number.
    """
    from datasketch import MinHashLSH
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, num_perm = signatures.shape
    index = MinHashLSH(threshold=threshold, num_perm=num_perm)
    component = np.arange(n)
    left_edges: list[np.ndarray] = []
    right_edges: list[np.ndarray] = []
    for band in range(index.b):
        block = np.ascontiguousarray(signatures[:, band * index.r : (band + 1) * index.r])
        key = block.view(np.dtype((np.void, block.shape[1] * block.itemsize))).ravel()
        order = np.argsort(key, kind="stable")
        ranked = key[order]
        for step in range(1, min(_RUN_SPAN, n - 1) + 1):
            same = ranked[step:] == ranked[:-step]
            a, b = order[:-step][same], order[step:][same]
            fresh = component[a] != component[b]
            a, b = a[fresh], b[fresh]
            agree = (signatures[a] == signatures[b]).mean(axis=1) >= threshold if len(a) else np.zeros(0, dtype=bool)
            left_edges.append(a[agree])
            right_edges.append(b[agree])
        left, right = np.concatenate(left_edges), np.concatenate(right_edges)
        graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
        component = connected_components(graph, directed=False)[1]
    return component


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
    if normalized is None:
        normalized = normalize_texts(texts)
    normalized = np.asarray(normalized, dtype=object)
    # Exact groups first: LSH only sees each distinct normalised text once.
    codes, unique = pd.factorize(normalized, sort=True)
    unique = unique.to_numpy(dtype=object) if hasattr(unique, "to_numpy") else np.asarray(unique, dtype=object)
    n = len(unique)
    signatures = minhash_signatures(list(unique), num_perm)
    component = near_duplicate_components(signatures, threshold)
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
