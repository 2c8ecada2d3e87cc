"""Benchmark the crisis cascade: share of tickets reaching the transformer, cost per ticket, int8 agreement.

Prints, for each ticket source (the sample, generated tickets as ``benchmarks/batch.py`` scores them,
the routing tuning set): the share of tickets whose fast score passes the gate, CPU microseconds per
ticket of the category features, the fast score and the transformer stage (per ticket overall and per
transformer call), next to the bare TF-IDF + logistic regression floor of ``benchmarks/batch.py``.
With ``--agreement`` it also compares the int8 ONNX embeddings with sentence-transformers' PyTorch
ones on the crisis training texts (needs the ``train`` extra): cosine and flags of the transformer stage.

Usage:
    python benchmarks/crisis.py --model models:/ticket-triage@champion [--generated 20000] [--agreement]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_us_per_ticket(fn, n: int) -> tuple[float, object]:
    """CPU time of ``fn()`` in microseconds per ticket (CPU, not wall: the machine is shared)."""
    started = time.process_time()
    out = fn()
    return (time.process_time() - started) * 1e6 / max(n, 1), out


def measure(classifier, texts: list[str], floor) -> dict[str, float]:
    """Share to the transformer and CPU cost per ticket of each stage on these texts."""
    detector = classifier.crisis
    n = len(texts)
    features_us, features = cpu_us_per_ticket(lambda: classifier.features(texts), n)
    fast_us, fast = cpu_us_per_ticket(lambda: detector.fast_proba(features), n)
    passed = np.flatnonzero(fast >= detector.gate)
    detector.encoder.encode(["warm up"])
    deep_us, _ = cpu_us_per_ticket(
        lambda: detector.deep_proba([texts[i] for i in passed], [b[passed] for b in features]), n
    )
    floor_us, _ = cpu_us_per_ticket(lambda: floor.predict_proba(texts), n)
    return {
        "tickets": n,
        "share_to_transformer": len(passed) / n,
        "features_us": features_us,
        "fast_us": fast_us,
        "transformer_us_per_ticket": deep_us,
        "transformer_ms_per_call": deep_us * n / max(len(passed), 1) / 1000,
        "floor_us": floor_us,
        "crisis_over_floor": (fast_us + deep_us) / floor_us,
    }


def torch_embeddings(texts: list[str], layers: int) -> np.ndarray:
    """The same encoder in PyTorch fp32: the first ``layers`` layers, mean pooled, L2-normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from pipeline.embeddings import bundled_minilm

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm()))
    model = AutoModel.from_pretrained(str(bundled_minilm())).eval()
    out = []
    with torch.inference_mode():
        for text in texts:
            batch = tokenizer([text], truncation=True, max_length=256, return_tensors="pt")
            states = model(**batch, output_hidden_states=True).hidden_states[layers]
            out.append(torch.nn.functional.normalize(states.mean(dim=1), dim=1).numpy()[0])
    return np.stack(out)


def agreement(classifier, n: int) -> dict[str, float]:
    """int8 ONNX against PyTorch fp32 embeddings and transformer-stage flags on ``n`` crisis texts."""
    import pandas as pd

    from pipeline.crisis import load_examples
    from serving.settings import Settings

    examples = load_examples(pd.read_csv(Settings().data_path, dtype=str, keep_default_na=False))
    hand = examples[examples["source"] != "sample"]
    texts = hand.sample(min(n, len(hand)), random_state=0)["text"].tolist()
    detector = classifier.crisis
    onnx = detector.encoder.encode(texts)
    layers = detector.info.get("encoder", {}).get("layers", 6)
    reference = torch_embeddings(texts, layers)
    cosine = (onnx * reference).sum(axis=1)
    features = classifier.features(texts)
    from serving.model.crisis import _linear, _sigmoid

    def deep(embedded: np.ndarray) -> np.ndarray:
        return _sigmoid(_linear([embedded, *features], detector.deep_coef) + detector.deep_intercept) >= detector.threshold

    flags_onnx, flags_torch = deep(onnx), deep(reference.astype(np.float32))
    return {
        "texts": len(texts),
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
        "flag_agreement": float((flags_onnx == flags_torch).mean()),
        "flags_onnx": int(flags_onnx.sum()),
        "flags_torch": int(flags_torch.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model URI or saved folder (the champion by default)")
    parser.add_argument("--generated", type=int, default=20_000, help="generated tickets to measure")
    parser.add_argument("--agreement", action="store_true", help="compare int8 ONNX with PyTorch (train extra)")
    parser.add_argument("--agreement-texts", type=int, default=1000, help="hand-written texts to compare")
    args = parser.parse_args()

    import pandas as pd
    from threadpoolctl import threadpool_limits

    from benchmarks.batch import floor_model
    from pipeline.generate import generate_tickets
    from serving.model.loader import load_model
    from serving.settings import Settings

    settings = Settings()
    classifier = load_model(args.model, settings)
    if classifier.crisis is None:
        raise SystemExit("this model has no learned crisis score")
    floor = floor_model(settings.data_path)
    sources = {
        "sample": pd.read_csv(settings.data_path, dtype=str, keep_default_na=False)["text"].tolist(),
        "generated": [t["text"] for t in generate_tickets(args.generated, seed=2024)],
        "routing tune": [json.loads(line)["text"] for line in (ROOT / "data/routing/tune.jsonl").read_text().splitlines() if line],
    }
    print(f"gate {classifier.crisis.gate:.4f}, threshold {classifier.crisis.threshold:.4f}\n")
    print("| tickets | n | share to transformer | features us | fast score us | transformer us/ticket | "
          "ms per transformer call | floor us | crisis cost / floor |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with threadpool_limits(limits=1):
        for name, texts in sources.items():
            m = measure(classifier, texts, floor)
            print(f"| {name} | {m['tickets']:,} | {m['share_to_transformer']:.2%} | {m['features_us']:.0f} | "
                  f"{m['fast_us']:.1f} | {m['transformer_us_per_ticket']:.0f} | {m['transformer_ms_per_call']:.2f} | "
                  f"{m['floor_us']:.0f} | {m['crisis_over_floor']:.2f}x |")  # fmt: skip
        if args.agreement:
            print("\nint8 ONNX vs PyTorch fp32:", json.dumps(agreement(classifier, args.agreement_texts)))


if __name__ == "__main__":
    main()
