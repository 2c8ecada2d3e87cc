"""Training time and peak memory on generated tickets, against a bare TF-IDF + logistic regression fit.

Each row runs in its own process so that its peak RSS is its own:

- ``baseline: tfidf+LR fit``: word 1-2-gram TF-IDF + logistic regression fitted on the same training
  split (no search, no calibration, no MLflow) -- the floor of a classic text classifier.
- ``triage train``: the real pipeline (search over the default grid, temperature calibration, thresholds,
  holdout + external evaluation, MLflow logging and registration into a temporary SQLite store).

Usage: ``python benchmarks/training.py [--sizes 6000,100000]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "tickets.csv"

BASELINE = """
import sys
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from pipeline.data import load_labelled, split_by_family
split = split_by_family(load_labelled(sys.argv[1]), seed=42)
make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
              LogisticRegression(max_iter=2000)).fit(split.train["text"], split.train["category"])
"""

TRIAGE = """
import json, sys
from pipeline.tracking import run_training
from serving.settings import Settings
settings = Settings(MLFLOW_TRACKING_URI=f"sqlite:///{sys.argv[2]}/mlflow.db", artifact_root=f"{sys.argv[2]}/artifacts")
summary = run_training(settings, sys.argv[1])
print(json.dumps({"holdout_macro_f1": summary["holdout"]["macro_f1"],
                  "external_macro_f1": summary.get("external", {}).get("macro_f1")}))
"""


def measure(code: str, *args: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh Python; return seconds, peak RSS in MiB (with children) and its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    handle = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss for p in [handle, *handle.children(recursive=True)]))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    out = process.stdout.read()
    if process.returncode != 0:
        raise SystemExit(f"benchmark step failed with exit code {process.returncode}")
    return time.perf_counter() - started, peak / 2**20, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6000,100000", help="comma-separated ticket counts; 6000 is the committed sample")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print("| tickets | what | seconds | peak RSS MiB | holdout macro-F1 | external macro-F1 |")
    print("|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            data = SAMPLE if n == 6000 else Path(tmp) / f"tickets_{n}.csv"
            if not data.exists():
                from pipeline.generate import write_tickets

                write_tickets(data, n, seed=1)
            seconds, peak, _ = measure(BASELINE, str(data))
            print(f"| {n:,} | baseline: tfidf+LR fit | {seconds:.1f} | {peak:.0f} | | |", flush=True)
            store = Path(tmp) / f"store_{n}"
            store.mkdir()
            seconds, peak, out = measure(TRIAGE, str(data), str(store))
            scores = json.loads(out.strip().splitlines()[-1])
            external = scores["external_macro_f1"]
            print(
                f"| {n:,} | triage train (search, calibration, MLflow) | {seconds:.1f} | {peak:.0f} "
                f"| {scores['holdout_macro_f1']:.3f} | {'' if external is None else f'{external:.3f}'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
