"""Fit the learned crisis score: examples, the ONNX encoder, grouped cross-validation, thresholds.

The examples are the hand-written crisis files in ``data/crisis/`` (positives and hard negatives by
kind) plus the sample tickets (intent ``crisis`` positive, every other ticket negative). Near
duplicates and a sample family's tickets share a group, so no fold scores a text whose twin it
trained on. Thresholds are chosen on the out-of-fold scores and the final heads are refitted on
everything; the cross-validated rates per kind are what training reports (``data/crisis/sealed*``
files are never read here).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from pipeline.embeddings import bundled_minilm
from pipeline.evaluation.routing import read_routing_set
from serving.model.classifier import TicketClassifier
from serving.model.crisis import ONNX_FILE, TOKENIZER_FILE, CrisisDetector, SentenceEncoder, sentence_runs
from serving.rules.crisis import RULES_FINGERPRINT, matching_rules
from serving.settings import PROJ_ROOT, Settings

log = logging.getLogger(__name__)

CRISIS_DATA = PROJ_ROOT / "data" / "crisis"
# tune_round2..11.jsonl were sealed sets (each scored once, then moved to training).
TRAINING_FILES: tuple[str, ...] = (
    "train_positive.jsonl", "train_negative.jsonl", "crisis_set.jsonl", "tune_round2.jsonl", "tune_round3.jsonl",
    "tune_round4.jsonl", "tune_round5.jsonl", "tune_round6.jsonl", "tune_round7.jsonl", "tune_round8.jsonl",
    "train_negative8.jsonl", "tune_round9.jsonl", "tune_round10.jsonl", "tune_round11.jsonl",
)
# The routing tuning set's persona tickets: crisis where SAFETY-CRISIS is expected, else safe (end of care,
# emergencies, heavy clinical questions: the hard negatives of real routing).
ROUTING_TUNE = PROJ_ROOT / "data" / "routing" / "tune.jsonl"
SAMPLE_CRISIS_INTENT = "crisis"
FOLDS = 5
# Two texts whose word TF-IDF vectors are this close are one group (near duplicates, one idea
# twice). Lexical, not the encoder's: a 3-layer MiniLM puts unrelated texts above any useful cosine.
NEAR_DUPLICATE_COSINE = 0.5
CACHE_FILE = "embeddings-cache.npz"
EXPORT_FILE = "export.json"
# Transformer layers kept: the mean of layer 3's token states separated crisis from heavy-but-safe
# text better than the last layer's in grouped cross-validation, at half the cost (see README).
MINILM_LAYERS = 3


@dataclass(frozen=True)
class CrisisParams:
    """Training choices (logged to MLflow); the defaults were chosen by grouped cross-validation.

    Attributes:
        recall_target: out-of-fold recall wanted from patterns OR the transformer stage (no gate).
        transformer_share: out-of-fold share of the sample's ordinary tickets the fast gate lets through
            to the transformer: the speed budget (each call costs about 40 TF-IDF+LR floor tickets;
            3.5 % kept ``triage score`` near 3x the floor, and cost 3 points of recall against 10 %).
        C: inverse regularisation of both logistic regressions.
        negative_weight: weight of each hand-written negative (heavy, idioms, negations) against a sample ticket
            (grouped cross-validation with round 4 in the data: 3 -> 268 false flags, 5 -> 249, recall 0.937 both).
        confirm_fraction: a pattern that out of fold flags more safe texts than it adds crisis catches
            (texts no other pattern and not the learned score flag) is kept only with the transformer
            stage at this fraction of its threshold or more (its ``confirm_threshold``).
        window_sentences: texts longer than this many sentences are also scored in runs of this many
            (0: whole texts only); ``window_stride`` sentences between run starts.
        window_threshold: transformer-stage probability a run needs to flag its text. 0.85 with runs of
            3 every 2 sentences was chosen on the scored sealed round 6 (then tuning data) with the
            previous release's model, which had not seen it: buried crises 0.70 -> 0.90, heavy safe
            messages 0.045 -> 0.055 flagged.
        window_share: speed budget of the runs: the share of the sample's ordinary tickets with a run
            that goes through the transformer (sets ``window_gate``, never below the whole-text gate).
    """

    recall_target: float = 0.95
    transformer_share: float = 0.035
    C: float = 16.0
    negative_weight: float = 5.0
    confirm_fraction: float = 1 / 3
    window_sentences: int = 3
    window_stride: int = 2
    window_threshold: float = 0.85
    window_share: float = 0.02


@dataclass
class CrisisTraining:
    """The fitted detector, what cross-validation measured, and the out-of-fold scores behind it.

    ``oof`` has one row per example: ``fast`` and ``deep`` (out-of-fold probabilities of the two
    stages) and ``patterns`` (whether the patterns fire), for choosing other operating points.
    """

    detector: CrisisDetector
    report: dict[str, Any] = field(default_factory=dict)
    oof: pd.DataFrame | None = None


def load_examples(sample: pd.DataFrame, folder: Path = CRISIS_DATA, routing: Path | None = ROUTING_TUNE) -> pd.DataFrame:
    """The crisis training examples.

    Args:
        sample: labelled sample tickets with ``text``, ``intent`` and ``family``.
        folder: where the hand-written JSON Lines files are (``text``, ``label``, ``kind``).
        routing: a routing tuning set (``text``, ``expected_rule_id``), or None to leave it out.

    Returns:
        ``text``, ``label`` (1 crisis), ``kind``, ``source`` (file stem or ``sample``) and ``family``
        (the sample's phrasing family, empty for hand-written texts).
    """
    frames = []
    for name in TRAINING_FILES:
        path = Path(folder) / name
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        bad = [i for i, r in enumerate(rows, 1) if not str(r.get("text", "")).strip() or r.get("label") not in (0, 1)]
        if bad:
            raise ValueError(f"{path}: rows {bad[:10]} need a non-empty text and a label of 0 or 1")
        frame = pd.DataFrame(rows)[["text", "label", "kind"]]
        frames.append(frame.assign(source=path.stem, family=""))
    if routing is not None:
        tickets = read_routing_set(Path(routing))
        label = (tickets["expected_rule_id"] == "SAFETY-CRISIS").astype(int)
        kind = np.where(label == 1, "routing_crisis", "routing_safe")
        frames.append(pd.DataFrame({"text": tickets["text"].astype(str), "label": label, "kind": kind,
                                    "source": routing.stem, "family": ""}))  # fmt: skip
    if "intent" not in sample.columns:  # without intents the crisis tickets among them are unknown
        log.warning("crisis: the training file has no 'intent' column; using the hand-written examples only")
        sample = sample.iloc[:0].assign(intent="", family="")
    crisis = sample["intent"].astype(str) == SAMPLE_CRISIS_INTENT
    frames.append(
        pd.DataFrame(
            {
                "text": sample["text"].astype(str).to_numpy(),
                "label": crisis.astype(int).to_numpy(),
                "kind": np.where(crisis, "sample_crisis", "sample_ticket"),
                "source": "sample",
                "family": sample["family"].astype(str).to_numpy(),
            }
        )
    )
    out = pd.concat(frames, ignore_index=True)
    out["label"] = out["label"].astype(int)
    return out


def ensure_minilm_onnx(settings: Settings, layers: int = MINILM_LAYERS) -> Path:
    """Return the folder of the int8 ONNX all-MiniLM-L6-v2 encoder, exporting it first if needed.

    The export (PyTorch + onnx, about 20 s, once) reads the hash-checked weights and keeps the
    first ``layers`` transformer layers, mean-pooled and L2-normalised as sentence-transformers
    does; serving needs only ONNX Runtime. Weights are quantized per output channel, MatMuls only:
    per-tensor int8 moved the embeddings to a mean cosine of 0.96 with the PyTorch ones, per
    channel keeps 0.993.

    Args:
        settings: ``minilm_onnx_dir`` (where it is kept) and ``minilm_path`` (the user's own copy).
        layers: transformer layers to keep (6 is the whole model).

    Returns:
        A folder with ``minilm.onnx`` and ``tokenizer.json``.
    """
    target = Path(settings.minilm_onnx_dir).resolve()  # absolute: the export runs in a scratch folder
    source = Path(settings.minilm_path).resolve() if settings.minilm_path else bundled_minilm()
    wanted = {"source": str(source), "layers": layers, "quantization": "int8 per channel, MatMul"}
    done = target / EXPORT_FILE
    if (target / ONNX_FILE).exists() and done.exists() and json.loads(done.read_text()) == wanted:
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from transformers import AutoModel

    class _MeanPooled(torch.nn.Module):
        """sentence-transformers' all-MiniLM-L6-v2: mean of the token states, then L2 norm."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            states = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    log.info("exporting all-MiniLM-L6-v2 from %s to ONNX (once)", source)
    transformer = AutoModel.from_pretrained(str(source)).eval()
    transformer.encoder.layer = transformer.encoder.layer[:layers]
    transformer.config.num_hidden_layers = layers
    model = _MeanPooled(transformer)
    example = (torch.ones((1, 8), dtype=torch.int64), torch.ones((1, 8), dtype=torch.int64))
    target.mkdir(parents=True, exist_ok=True)
    # The quantizer writes scratch files into the working folder: keep them in the temporary one,
    # beside the target so the finished files move in atomically (two test workers may export at once).
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, contextlib.chdir(tmp):
        plain, prepared = Path(tmp) / "plain.onnx", Path(tmp) / "prepared.onnx"
        torch.onnx.export(
            model, example, str(plain), input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )  # fmt: skip
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(
            str(prepared), str(Path(tmp) / ONNX_FILE), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True},
        )  # fmt: skip
        shutil.copyfile(source / TOKENIZER_FILE, Path(tmp) / TOKENIZER_FILE)
        Path(tmp, EXPORT_FILE).write_text(json.dumps(wanted))
        for name in (TOKENIZER_FILE, ONNX_FILE, EXPORT_FILE):
            os.replace(Path(tmp) / name, target / name)
    return target


def embed_with_cache(encoder_folder: Path, texts: list[str]) -> np.ndarray:
    """MiniLM embeddings of ``texts``, reusing those computed by earlier runs with the same ONNX file.

    Encoding the ~8,000 examples costs about a minute of CPU; the cache (``embeddings-cache.npz``
    beside the ONNX file, keyed by each text's SHA-1) makes a retrain or a test run pay only for new
    texts. Training examples are invented text, never client tickets.
    """
    folder = Path(encoder_folder)
    path = folder / CACHE_FILE
    onnx_sha = _sha256(folder / ONNX_FILE)
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as cached:
            if str(cached["onnx_sha256"]) == onnx_sha:
                known = dict(zip(cached["keys"].tolist(), cached["vectors"]))
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        by_key = dict(zip(keys, texts))
        log.info("crisis: embedding %d new texts with MiniLM (ONNX)", len(missing))
        known.update(zip(missing, SentenceEncoder(folder).encode([by_key[k] for k in missing])))
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as scratch:
            np.savez(scratch, onnx_sha256=np.asarray(onnx_sha), keys=np.asarray(list(known)),
                     vectors=np.stack(list(known.values())))  # fmt: skip
        os.replace(scratch.name, path)  # atomic: a parallel run reads the old cache or the new one
    return np.stack([known[k] for k in keys]).astype(np.float32)


def _export_facts(folder: Path) -> dict[str, Any]:
    """What ``ensure_minilm_onnx`` wrote about the export (source, layers, quantization), if anything."""
    path = folder / EXPORT_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def near_duplicate_groups(texts: list[str], families: np.ndarray) -> np.ndarray:
    """Group ids: texts whose word 1-2-gram TF-IDF cosine passes ``NEAR_DUPLICATE_COSINE``, or of one
    sample family, share a group."""
    n = len(texts)
    vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    pairs_i, pairs_j = [], []
    for start in range(0, n, 1000):  # 1,000 rows at a time keeps the similarity block small
        block = (vectors[start : start + 1000] @ vectors.T).toarray()
        rows, cols = np.nonzero(block > NEAR_DUPLICATE_COSINE)
        pairs_i.append(rows + start)
        pairs_j.append(cols)
    rows, cols = np.concatenate(pairs_i), np.concatenate(pairs_j)
    close = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    first: dict[str, int] = {}
    pairs = [(i, first.setdefault(f, i)) for i, f in enumerate(families) if f]
    rows, cols = zip(*pairs) if pairs else ((), ())
    same_family = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return connected_components(close + same_family, directed=False)[1]


def _fit(features: Any, y: np.ndarray, weights: np.ndarray, params: CrisisParams, seed: int) -> LogisticRegression:
    model = LogisticRegression(C=params.C, max_iter=3000, class_weight="balanced", random_state=seed)
    return model.fit(features, y, sample_weight=weights)


def _threshold_keeping(scores: np.ndarray, caught: np.ndarray, positives: np.ndarray, recall: float) -> float:
    """The highest threshold at which ``caught | scores >= threshold`` reaches ``recall`` of the positives."""
    need = int(np.ceil(recall * positives.sum())) - int((caught & positives).sum())
    if need <= 0:
        return 1.0
    candidates = np.sort(scores[positives & ~caught])[::-1]
    return float(candidates[min(need, len(candidates)) - 1])


def rates_by_kind(flags: np.ndarray, examples: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Share flagged per kind: recall for crisis kinds, false-flag rate for the others."""
    out = {}
    for (kind, label), rows in examples.groupby(["kind", "label"]).groups.items():
        share = float(flags[np.asarray(rows)].mean())
        out[str(kind)] = {"label": int(label), "n": len(rows), "recall" if label else "false_flag_rate": share}
    return out


def train_crisis_detector(
    classifier: TicketClassifier,
    examples: pd.DataFrame,
    encoder_folder: Path,
    *,
    seed: int,
    params: CrisisParams | None = None,
) -> CrisisTraining:
    """Cross-validate the cascade by groups, choose its thresholds, refit it on every example.

    Args:
        classifier: the trained category model, whose features the fast score reuses.
        examples: from ``load_examples``.
        encoder_folder: from ``ensure_minilm_onnx``.
        seed: folds and solvers.
        params: training choices; ``CrisisParams()`` when None.

    Returns:
        The detector (not yet attached to the classifier) and the cross-validated report.
    """
    params = params or CrisisParams()
    texts = examples["text"].tolist()
    y = examples["label"].to_numpy()
    positives = y == 1
    weights = np.where((examples["source"] != "sample").to_numpy() & ~positives, params.negative_weight, 1.0)
    embedded = embed_with_cache(encoder_folder, texts)
    fast_x = sp.hstack([sp.csr_matrix(block) for block in classifier.features(texts)]).tocsr()
    deep_x = sp.hstack([sp.csr_matrix(embedded), fast_x]).tocsr()
    rules = [matching_rules(t) for t in texts]
    patterns = np.array([bool(found) for found in rules])
    groups = near_duplicate_groups(texts, examples["family"].to_numpy())
    folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed).split(texts, y, groups)
    # Runs of sentences of the long examples, scored out of fold with their example.
    owners, runs = sentence_runs(texts, params.window_sentences, params.window_stride)
    if runs:
        run_fast_x = sp.hstack([sp.csr_matrix(block) for block in classifier.features(runs)]).tocsr()
        run_deep_x = sp.hstack([sp.csr_matrix(embed_with_cache(encoder_folder, runs)), run_fast_x]).tocsr()

    fast, deep = np.zeros(len(y)), np.zeros(len(y))
    run_fast, run_deep = np.zeros(len(runs)), np.zeros(len(runs))
    with threadpool_limits(limits=1):
        for train, test in folds:
            fold_fast = _fit(fast_x[train], y[train], weights[train], params, seed)
            fold_deep = _fit(deep_x[train], y[train], weights[train], params, seed)
            fast[test] = fold_fast.predict_proba(fast_x[test])[:, 1]
            deep[test] = fold_deep.predict_proba(deep_x[test])[:, 1]
            held = np.isin(owners, test)
            if held.any():
                run_fast[held] = fold_fast.predict_proba(run_fast_x[held])[:, 1]
                run_deep[held] = fold_deep.predict_proba(run_deep_x[held])[:, 1]
        threshold = _threshold_keeping(deep, patterns, positives, params.recall_target)
        deep_hits = deep >= threshold
        ungated = float((patterns | deep_hits)[positives].mean())
        sample = (examples["source"] == "sample").to_numpy()
        ordinary = sample & ~positives
        if not ordinary.any():  # no sample tickets: the speed budget is taken over the hand-written negatives
            ordinary = ~positives
        gate = float(np.quantile(fast[ordinary], 1.0 - params.transformer_share))
        learned = (fast >= gate) & deep_hits
        confirm_threshold = threshold * params.confirm_fraction
        confirmed = _rules_to_confirm(rules, learned, positives)
        alone = np.array([bool(found - confirmed) for found in rules])
        whole = alone | learned | (patterns & ~alone & (deep >= confirm_threshold))
        best_run = np.zeros(len(y))
        np.maximum.at(best_run, owners, run_fast)
        window_gate = max(gate, float(np.quantile(best_run[ordinary], 1.0 - params.window_share)))
        window_hits = np.zeros(len(y), dtype=bool)
        window_hits[owners[(run_fast >= window_gate) & (run_deep >= params.window_threshold)]] = True
        flagged = whole | window_hits
        fast_model = _fit(fast_x, y, weights, params, seed)
        deep_model = _fit(deep_x, y, weights, params, seed)

    report = {
        "params": {**params.__dict__, "folds": FOLDS, "groups": int(groups.max() + 1)},
        "gate": gate,
        "threshold": threshold,
        "recall": float(flagged[positives].mean()),
        "recall_without_gate": ungated,
        "recall_without_windows": float(whole[positives].mean()),
        "false_flags_without_windows": int(whole[~positives].sum()),
        "window_gate": window_gate,
        "window_share_sample": float((best_run >= window_gate)[ordinary].mean()),
        "recall_patterns_only": float(patterns[positives].mean()),
        "recall_patterns_or_learned": float((patterns | learned)[positives].mean()),
        "false_flags_patterns_or_learned": int((patterns | learned)[~positives].sum()),
        "false_flags": int(flagged[~positives].sum()),
        "confirmed_rules": sorted(confirmed),
        "confirm_threshold": confirm_threshold,
        "transformer_share_sample": float((fast >= gate)[ordinary].mean()),
        "by_kind": rates_by_kind(flagged, examples),
        "by_kind_patterns_only": rates_by_kind(patterns, examples),
        "by_kind_learned_only": rates_by_kind(learned, examples),
        "onnx_sha256": _sha256(Path(encoder_folder) / ONNX_FILE),
        "encoder": _export_facts(Path(encoder_folder)),
    }
    detector = CrisisDetector(
        fast_coef=fast_model.coef_[0],
        fast_intercept=float(fast_model.intercept_[0]),
        deep_coef=deep_model.coef_[0],
        deep_intercept=float(deep_model.intercept_[0]),
        gate=gate,
        threshold=threshold,
        encoder_folder=Path(encoder_folder),
        info={k: report[k] for k in ("gate", "threshold", "recall", "transformer_share_sample", "onnx_sha256", "encoder")},
        confirmed_rules=tuple(sorted(confirmed)),
        confirm_threshold=confirm_threshold,
        rules_fingerprint=RULES_FINGERPRINT,
        window_sentences=params.window_sentences,
        window_stride=params.window_stride,
        window_gate=window_gate,
        window_threshold=params.window_threshold,
    )
    oof = pd.DataFrame({"fast": fast, "deep": deep, "patterns": patterns})
    return CrisisTraining(detector=detector, report=report, oof=oof)


def _rules_to_confirm(rules: list[frozenset[int]], learned: np.ndarray, positives: np.ndarray) -> frozenset[int]:
    """Patterns whose lone hits (no other pattern, not the learned score) are more often safe than crisis."""
    lone: dict[int, list[int]] = {}
    for found, hit, crisis in zip(rules, learned, positives):
        if len(found) == 1 and not hit:
            (index,) = found
            lone.setdefault(index, [0, 0])[int(crisis)] += 1
    return frozenset(index for index, (safe, caught) in lone.items() if safe > caught)


def crisis_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report as flat MLflow metrics (``crisis_cv_*``)."""
    metrics = {
        f"crisis_cv_{k}": float(report[k])
        for k in ("recall", "recall_without_gate", "recall_patterns_only", "recall_patterns_or_learned", "false_flags",
                  "false_flags_patterns_or_learned", "transformer_share_sample", "gate", "threshold", "confirm_threshold",
                  "recall_without_windows", "false_flags_without_windows", "window_gate", "window_share_sample")
    }
    for kind, row in report["by_kind"].items():
        name = "recall" if row["label"] else "false_flag_rate"
        metrics[f"crisis_cv_{name}_{kind}"] = row[name]
    return metrics
