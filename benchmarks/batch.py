"""Benchmark ``triage score`` end to end against the floor of a classic text classifier.

For each size it prints one markdown row: tickets/s and the peak RSS of the whole process tree of
``triage score`` (the main process plus its scoring workers, sampled every 0.1 s), next to

- the floor: a bare TF-IDF (word 1-2-grams) + logistic regression ``predict_proba`` on the same
  texts, fitted on the sample data, in this process (no I/O, no rules);
- ``mlflow.pyfunc.load_model(...).predict`` on the whole frame (the registered model, in memory).

Usage:
    python benchmarks/batch.py                    # 100k, 400k and 1M tickets
    python benchmarks/batch.py --sizes 20000      # a quick check
    python benchmarks/batch.py --sizes 400000 --texts data/routing/tune.jsonl   # realistic text

``--texts`` replaces each generated ticket's text by one drawn (seeded, with replacement) from a file
of whole multi-sentence messages, such as the routing tuning set's persona tickets: longer and more
varied than the generator's, and with a realistic share of crisis and heavy wording for the cascade.

Generated files are cached in benchmarks/.data (gitignored). Without a champion in the configured
store (MLFLOW_TRACKING_URI), one is trained on the sample into benchmarks/.data first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "benchmarks" / ".data"


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_score(source: Path, output: Path, env: dict[str, str], extra: list[str]) -> tuple[float, int, str]:
    """Run ``triage score`` in a subprocess; (seconds, peak tree RSS, summary line)."""
    command = [str(Path(sys.executable).parent / "triage"), "score", str(source), "-o", str(output), *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(watched))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"triage score failed ({process.returncode}):\n{err[-2000:]}")
    return seconds, peak, err.strip().splitlines()[-1]


def ensure_champion(env: dict[str, str]) -> str:
    """A tracking URI with a champion: the configured one, else a fresh store under benchmarks/.data."""
    from serving.model.loader import resolve_version
    from serving.settings import Settings

    settings = Settings()
    if resolve_version(settings) is not None:
        return settings.tracking_uri
    from pipeline.tracking import run_training

    uri = f"sqlite:///{DATA / 'mlflow.db'}"
    settings = Settings(MLFLOW_TRACKING_URI=uri, artifact_root=str(DATA / "artifacts"))
    if resolve_version(settings) is None:
        print("no champion found; training one on the sample into benchmarks/.data ...", file=sys.stderr)
        run_training(settings, settings.data_path)
    return uri


def floor_model(sample: Path):
    """TF-IDF word 1-2-grams + logistic regression, fitted on the sample."""
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    frame = pd.read_csv(sample, dtype=str, keep_default_na=False)
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2), LogisticRegression(max_iter=1000))
    return model.fit(frame["text"], frame["category"])


def with_texts(source: Path, texts_path: Path, target: Path) -> Path:
    """Copy ``source`` (generated tickets) to ``target`` with texts drawn from ``texts_path``."""
    import numpy as np
    import pandas as pd

    from serving.batch.io import read_table

    pool = read_table(texts_path)[0]["text"].astype(str).to_numpy()
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame["text"] = pool[np.random.default_rng(2024).integers(0, len(pool), len(frame))]
    frame.to_csv(target, index=False)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,400000,1000000", help="comma-separated ticket counts")
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--workers", default=None, help="triage score --workers (default: its own)")
    parser.add_argument("--output-format", default="parquet", choices=["csv", "jsonl", "parquet"])
    parser.add_argument("--skip-pyfunc", action="store_true", help="skip the whole-frame pyfunc column")
    parser.add_argument("--texts", type=Path, default=None, help="draw ticket texts from this file (text column)")
    args = parser.parse_args()

    import mlflow
    import pandas as pd

    from pipeline.generate import write_tickets
    from serving.settings import Settings

    DATA.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = ensure_champion(env)
    settings = Settings(MLFLOW_TRACKING_URI=env["MLFLOW_TRACKING_URI"])
    floor = floor_model(settings.data_path)
    mlflow.set_tracking_uri(settings.tracking_uri)
    pyfunc = None if args.skip_pyfunc else mlflow.pyfunc.load_model(settings.model_uri)
    extra = ["--chunk-size", str(args.chunk_size)] + (["--workers", args.workers] if args.workers else [])

    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        source = DATA / f"tickets_{size}.csv"
        if not source.exists():
            print(f"generating {size} tickets ...", file=sys.stderr)
            write_tickets(source, size, seed=2024)
        if args.texts is not None:
            drawn = DATA / f"tickets_{size}_{args.texts.stem}.csv"
            source = drawn if drawn.exists() else with_texts(source, args.texts, drawn)
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            seconds, peak, summary = run_score(source, Path(tmp) / f"scored.{args.output_format}", env, extra)
        print(f"{size}: {summary}", file=sys.stderr)
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
        texts = frame["text"].tolist()
        started = time.perf_counter()
        floor.predict_proba(texts)
        floor_s = time.perf_counter() - started
        pyfunc_s = None
        if pyfunc is not None:
            inputs = frame[["ticket_id", "text", "created_at", "appointment_at", "awaiting_provider_since", "emergency", "timezone"]]
            started = time.perf_counter()
            pyfunc.predict(inputs)
            pyfunc_s = time.perf_counter() - started
        del frame, texts
        rows.append((size, seconds, peak, floor_s, pyfunc_s))
        print(f"{size}: triage score {seconds:.1f} s, floor {floor_s:.1f} s, pyfunc {pyfunc_s} s", file=sys.stderr)

    cpu = os.cpu_count()
    texts = f", texts from {args.texts}" if args.texts else ", generated texts"
    print(f"\n`triage score` end to end (CSV in, {args.output_format} out, chunk {args.chunk_size}{texts}), {cpu} CPUs\n")
    print("| tickets | triage score s | tickets/s | peak RSS (tree) | TF-IDF+LR floor s | floor tickets/s | score / floor | pyfunc.predict s | pyfunc tickets/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, seconds, peak, floor_s, pyfunc_s in rows:
        pyfunc_cols = f"{pyfunc_s:.1f} | {size / pyfunc_s:,.0f}" if pyfunc_s else "- | -"
        print(
            f"| {size:,} | {seconds:.1f} | {size / seconds:,.0f} | {peak / 2**30:.2f} GiB | {floor_s:.1f} | "
            f"{size / floor_s:,.0f} | {seconds / floor_s:.2f}x | {pyfunc_cols} |"
        )


if __name__ == "__main__":
    main()
