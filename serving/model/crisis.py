"""The learned crisis score: a fast linear gate, then all-MiniLM-L6-v2 through ONNX Runtime.

The crisis patterns (``serving.rules.crisis``) miss wording nobody wrote a pattern for; a learned score
sits beside them and the routing flags a ticket when either fires. Sentence embeddings separate
crisis from emotionally heavy but safe messages far better than static ones, but cost about 5 ms a
ticket. So the score is a cascade:

1. the *fast* score, a logistic regression on the features the category model already computes
   (static embeddings and word TF-IDF: one extra dot product per ticket), clears most tickets;
2. the rest go through the transformer (int8 ONNX, no PyTorch) and a logistic regression on its
   embedding plus the same fast features, whose threshold was chosen for a recall target.

A crisis written into one part of a long message (a sentence in the middle of a billing question)
is diluted in the whole text's scores, so a text of more than ``window_sentences`` sentences is
also scored in runs of that many sentences: a run whose fast score clears ``window_gate`` and whose
transformer-stage score reaches ``window_threshold`` flags the ticket.

Most crisis patterns flag a ticket on their own; the few that training measured to raise more false
flags than they add catches (``confirmed_rules``) flag only when the transformer stage agrees at a
lower bar (``confirm_threshold``).

Both thresholds are chosen on held-out folds by ``pipeline.crisis``. Everything here is arrays and
ONNX bytes written next to the classifier: nothing is pickled and nothing is downloaded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from serving.rules.crisis import RULES_FINGERPRINT
from serving.rules.timetext import split_sentences

CRISIS_DIR = "crisis"
ONNX_FILE = "minilm.onnx"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "heads.npz"
META_FILE = "crisis.json"
# all-MiniLM-L6-v2 was trained on at most 256 word pieces (its sentence_bert_config.json).
MAX_TOKENS = 256


def sentence_windows(text: str, size: int, stride: int) -> list[str]:
    """Runs of ``size`` sentences starting every ``stride`` sentences, the last run ending at the last
    sentence; none for a text of ``size`` sentences or fewer (its whole text is the only run)."""
    parts = [part.strip() for part in split_sentences(text) if part.strip()]
    if size <= 0 or len(parts) <= size:
        return []
    starts = list(range(0, len(parts) - size + 1, max(stride, 1)))
    if starts[-1] != len(parts) - size:
        starts.append(len(parts) - size)
    return [" ".join(parts[i : i + size]) for i in starts]


def sentence_runs(texts: Sequence[str], size: int, stride: int, rows: Any = None) -> tuple[np.ndarray, list[str]]:
    """Every ``sentence_windows`` run of the texts (of ``rows`` only, when given) and the index of its text."""
    owners: list[int] = []
    runs: list[str] = []
    for i in range(len(texts)) if rows is None else rows:
        for run in sentence_windows(texts[i], size, stride):
            owners.append(int(i))
            runs.append(run)
    return np.asarray(owners, dtype=np.int64), runs


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooled, L2-normalised) from an ONNX file.

    Each text runs alone (batch of one): the int8 model quantizes activations with a scale taken
    from the whole input tensor, so a text batched with others would get slightly different numbers
    and the API, batch and Spark would disagree. One at a time is also the fastest on this CPU
    (no padding).

    Args:
        folder: holds ``minilm.onnx`` and the model's ``tokenizer.json``.
        threads: ONNX Runtime intra-op threads; one, since batch scoring already runs a process per core.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self.dims = int(self._session.get_outputs()[0].shape[-1])
        # The Rust tokenizer refuses concurrent use ("Already borrowed"); the ONNX session does not.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        if not len(texts):
            return out
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        for row, encoding in enumerate(encodings):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            out[row] = self._session.run(None, feed)[0][0]
        return out


@dataclass
class CrisisDetector:
    """The learned half of crisis detection: fast gate, then the transformer's score.

    Attributes:
        fast_coef: weights of the fast score over the category model's features (concatenated).
        fast_intercept: its intercept.
        deep_coef: weights over ``[MiniLM embedding, the same features]``.
        deep_intercept: its intercept.
        gate: fast probability below which a ticket is cleared without the transformer.
        threshold: transformer-stage probability at or above which a ticket is flagged.
        encoder_folder: folder with the ONNX model and tokenizer (loaded on first use).
        info: what training measured (cross-validated rates per kind, shares), shown by reports.
        confirmed_rules: crisis patterns (indices in ``serving.rules.crisis``'s table) that flag only
            with the transformer stage at ``confirm_threshold`` or more; the others flag alone.
        confirm_threshold: that bar.
        rules_fingerprint: the pattern table the indices refer to; for another table every pattern
            flags alone (recall first).
        window_sentences: sentences per run for long texts; 0 turns runs off (models saved before them).
        window_stride: sentences between the starts of two runs.
        window_gate: fast probability a run needs to go through the transformer.
        window_threshold: transformer-stage probability at or above which a run flags its ticket.
    """

    fast_coef: np.ndarray
    fast_intercept: float
    deep_coef: np.ndarray
    deep_intercept: float
    gate: float
    threshold: float
    encoder_folder: Path
    info: dict[str, Any] = field(default_factory=dict)
    confirmed_rules: tuple[int, ...] = ()
    confirm_threshold: float = 1.0
    rules_fingerprint: str = RULES_FINGERPRINT
    window_sentences: int = 0
    window_stride: int = 2
    window_gate: float = 1.0
    window_threshold: float = 1.0

    def __post_init__(self) -> None:
        if self.rules_fingerprint != RULES_FINGERPRINT:
            self.confirmed_rules = ()
        self.confirmed_rules = tuple(sorted(int(r) for r in self.confirmed_rules))
        self.fast_coef = np.asarray(self.fast_coef, dtype=np.float64)
        self.deep_coef = np.asarray(self.deep_coef, dtype=np.float64)
        self._encoder: SentenceEncoder | None = None
        self._lock = threading.Lock()

    @property
    def encoder(self) -> SentenceEncoder:
        """The ONNX encoder, loaded once (about 0.3 s) the first time a ticket needs it."""
        with self._lock:
            if self._encoder is None:
                self._encoder = SentenceEncoder(self.encoder_folder)
        return self._encoder

    def fast_proba(self, features: list[Any]) -> np.ndarray:
        """Fast crisis probability from the category model's feature blocks (one row per ticket)."""
        return _sigmoid(_linear(features, self.fast_coef) + self.fast_intercept)

    def deep_proba(self, texts: Sequence[str], features: list[Any]) -> np.ndarray:
        """Transformer-stage crisis probability for every text given (no gate)."""
        embedded = self.encoder.encode(texts)
        return _sigmoid(_linear([embedded, *features], self.deep_coef) + self.deep_intercept)

    def flags(
        self,
        texts: Sequence[str],
        features: list[Any],
        rules: Sequence[frozenset[int]] | None = None,
        featurize: Callable[[list[str]], list[Any]] | None = None,
    ) -> np.ndarray:
        """Whether crisis detection (the patterns and the cascade) flags each text.

        Args:
            texts: ticket texts.
            features: the category model's feature blocks for the same texts, in its column order.
            rules: per text, the crisis patterns that match (``serving.rules.crisis.matching_rules``);
                None when only the learned score is wanted. A text a pattern flags alone skips the
                transformer, which would not change it.
            featurize: the category model's ``features``, to score the sentence runs of long texts;
                None scores whole texts only.

        Returns:
            A boolean per text.
        """
        rules = rules if rules is not None else [frozenset()] * len(texts)
        confirm = frozenset(self.confirmed_rules)
        alone = np.array([bool(found - confirm) for found in rules], dtype=bool)
        weak = np.array([bool(found) for found in rules], dtype=bool) & ~alone
        gated = self.fast_proba(features) >= self.gate
        todo = np.flatnonzero((gated | weak) & ~alone)
        flagged = alone.copy()
        if len(todo):
            deep = self.deep_proba([texts[i] for i in todo], [block[todo] for block in features])
            flagged[todo] = (gated[todo] & (deep >= self.threshold)) | (weak[todo] & (deep >= self.confirm_threshold))
        if self.window_sentences and featurize is not None:
            flagged |= self.window_flags(texts, featurize, ~flagged)
        return flagged

    def window_flags(
        self, texts: Sequence[str], featurize: Callable[[list[str]], list[Any]], todo: np.ndarray | None = None
    ) -> np.ndarray:
        """Whether a run of sentences of each text (among ``todo``, all when None) is flagged on its own."""
        hit = np.zeros(len(texts), dtype=bool)
        rows = None if todo is None else np.flatnonzero(todo)
        owners, runs = sentence_runs(texts, self.window_sentences, self.window_stride, rows)
        if not runs:
            return hit
        features = featurize(runs)
        passed = np.flatnonzero(self.fast_proba(features) >= self.window_gate)
        if len(passed):
            deep = self.deep_proba([runs[j] for j in passed], [block[passed] for block in features])
            hit[owners[passed[deep >= self.window_threshold]]] = True
        return hit

    def save(self, folder: Path) -> Path:
        """Write the heads (npz of plain arrays), thresholds and the encoder files to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / WEIGHTS_FILE, fast_coef=self.fast_coef, deep_coef=self.deep_coef)
        source = Path(self.encoder_folder).resolve()
        for name in (ONNX_FILE, TOKENIZER_FILE):
            if source != folder.resolve():
                (folder / name).write_bytes((source / name).read_bytes())
        meta = {
            "fast_intercept": self.fast_intercept,
            "deep_intercept": self.deep_intercept,
            "gate": self.gate,
            "threshold": self.threshold,
            "confirmed_rules": list(self.confirmed_rules),
            "confirm_threshold": self.confirm_threshold,
            "rules_fingerprint": self.rules_fingerprint,
            "window_sentences": self.window_sentences,
            "window_stride": self.window_stride,
            "window_gate": self.window_gate,
            "window_threshold": self.window_threshold,
            "info": self.info,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: Path) -> "CrisisDetector":
        """Read a detector written by ``save`` (arrays only: ``allow_pickle`` stays off).

        The ONNX session is opened here, not on the first ticket that needs it, so the API's first
        crisis-like ticket does not pay for it.
        """
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as weights:
            fast_coef, deep_coef = weights["fast_coef"], weights["deep_coef"]
        detector = cls(
            fast_coef=fast_coef,
            fast_intercept=float(meta["fast_intercept"]),
            deep_coef=deep_coef,
            deep_intercept=float(meta["deep_intercept"]),
            gate=float(meta["gate"]),
            threshold=float(meta["threshold"]),
            encoder_folder=folder,
            info=meta.get("info", {}),
            confirmed_rules=tuple(meta.get("confirmed_rules", ())),
            confirm_threshold=float(meta.get("confirm_threshold", 1.0)),
            rules_fingerprint=meta.get("rules_fingerprint", RULES_FINGERPRINT),
            window_sentences=int(meta.get("window_sentences", 0)),
            window_stride=int(meta.get("window_stride", 2)),
            window_gate=float(meta.get("window_gate", 1.0)),
            window_threshold=float(meta.get("window_threshold", 1.0)),
        )
        _ = detector.encoder
        return detector


def _linear(blocks: list[Any], coef: np.ndarray) -> np.ndarray:
    """``hstack(blocks) @ coef`` without building the stacked matrix, each row on its own.

    Dense blocks use einsum without BLAS and sparse ones a CSR product, which sum each row in the
    same order whatever the batch (see ``serving.model.classifier._matmul``).
    """
    total = np.zeros(blocks[0].shape[0] if blocks else 0)
    start = 0
    for block in blocks:
        stop = start + block.shape[1]
        weights = coef[start:stop]
        if isinstance(block, np.ndarray):
            total += np.einsum("ij,j->i", block.astype(np.float64, copy=False), weights, optimize=False)
        else:
            total += np.asarray(block @ weights).ravel()
        start = stop
    if start != len(coef):
        raise ValueError(f"crisis head: features have {start} columns, the weights {len(coef)}")
    return total


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))
