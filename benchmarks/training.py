"""Training time and peak memory on generated tickets, against a bare TF-IDF + logistic regression fit.

Each row runs in its own process so that its peak RSS is its own:

- ``baseline: tfidf+LR fit``: word 1-2-gram TF-IDF + logistic regression fitted on the same training
  split (no search, no calibration, no MLflow) -- the floor of a classic text classifier. Its seconds
  are the fit alone; the data row before it is loading and splitting the same file.
- ``triage train``: the real pipeline (search over the default grid, temperature calibration, thresholds,
  holdout + external evaluation, MLflow logging and registration into a temporary SQLite store).

``--plain N`` adds a desk's plain export: ``triage generate --n N`` with the ``family`` and ``intent``
columns dropped, so the split comes from duplicate grouping (exact + MinHash LSH) and the time split,
and ``triage train --data`` runs as a desk would run it (its own process, the data report printed).

Usage: ``python benchmarks/training.py [--sizes 6000,100000] [--plain 200000]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "tickets.csv"

# The split comes from prepare_dataset (family split with a family column, else duplicate groups and time).
BASELINE = """
import json, sys, time
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from pipeline.dataset import DataOptions, prepare_dataset
from serving.settings import Settings
started = time.perf_counter()
settings = Settings(database_url=f"sqlite:///{sys.argv[2]}/none.db")
split = prepare_dataset(settings, sys.argv[1], DataOptions(use_feedback=False)).split
prepared = time.perf_counter()
model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                      LogisticRegression(max_iter=2000)).fit(split.train["text"], split.train["category"])
fitted = time.perf_counter()
from sklearn.metrics import f1_score
f1 = f1_score(split.test["category"], model.predict(split.test["text"]), average="macro")
print(json.dumps({"prepare_seconds": prepared - started, "fit_seconds": fitted - prepared, "test_macro_f1": f1}))
"""

DEDUP = """
import json, sys, time
from pipeline.data import load_export
from pipeline.dedup import group_duplicates
frame, _ = load_export(sys.argv[1])
started = time.perf_counter()
groups = group_duplicates(frame["text"].tolist())
print(json.dumps({"seconds": time.perf_counter() - started, **groups.report()}))
"""

TRIAGE = """
import json, sys
from pipeline.tracking import run_training
from serving.settings import Settings
settings = Settings(MLFLOW_TRACKING_URI=f"sqlite:///{sys.argv[2]}/mlflow.db", artifact_root=f"{sys.argv[2]}/artifacts",
                    database_url=f"sqlite:///{sys.argv[2]}/triage.db")
summary = run_training(settings, sys.argv[1])
print(json.dumps({"holdout_macro_f1": summary["holdout"]["macro_f1"],
                  "external_macro_f1": summary.get("external", {}).get("macro_f1")}))
"""


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return seconds, peak RSS in MiB (with children) and its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
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
        raise SystemExit(f"benchmark step failed with exit code {process.returncode}: {command[:3]}")
    return time.perf_counter() - started, peak / 2**20, out


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def plain_export(n: int, folder: Path) -> Path:
    """``triage generate --n n`` written as a desk's export: no ``family``, no ``intent``."""
    import pyarrow.parquet as pq

    generated = folder / f"generated_{n}.parquet"
    subprocess.run([sys.executable, "-c", "from triage.cli import app; app()", "generate", "--n", str(n), "--seed", "1",
                    "-o", str(generated)], cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    table = pq.read_table(generated).drop_columns(["family", "intent"])
    export = folder / f"plain_{n}.csv"
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, export)
    return export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6000,100000", help="comma-separated ticket counts (with family); 6000 is the committed sample; 'none' to skip")
    parser.add_argument("--plain", type=int, default=0, help="also train on a plain export of this many generated tickets (e.g. 200000)")
    args = parser.parse_args()
    sizes = [] if args.sizes == "none" else [int(s) for s in args.sizes.split(",")]
    print("| tickets | what | seconds | peak RSS MiB | holdout macro-F1 | external macro-F1 |")
    print("|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for n in sizes:
            data = SAMPLE if n == 6000 else Path(tmp) / f"tickets_{n}.csv"
            if not data.exists():
                from pipeline.generate import write_tickets

                write_tickets(data, n, seed=1)
            runs.append((f"{n:,}", data, None))
        if args.plain:
            runs.append((f"{args.plain:,} plain", plain_export(args.plain, Path(tmp)), "cli"))
        for label, data, how in runs:
            store = Path(tmp) / f"store_{len(os.listdir(tmp))}"
            store.mkdir()
            if how == "cli":
                seconds, peak, out = measure(python(DEDUP, str(data)))
                dup = json.loads(out.strip().splitlines()[-1])
                print(f"| {label} | duplicate grouping alone ({dup['exact_groups']:,} exact + {dup['near_groups']:,} near groups; "
                      f"grouping {dup['seconds']:.1f} s) | {seconds:.1f} | {peak:.0f} | | |", flush=True)  # fmt: skip
            _, peak, out = measure(python(BASELINE, str(data), str(store)))
            figures = json.loads(out.strip().splitlines()[-1])
            print(f"| {label} | data: load, duplicate groups, split | {figures['prepare_seconds']:.1f} | | | |")
            print(f"| {label} | baseline: tfidf+LR fit | {figures['fit_seconds']:.1f} | {peak:.0f} | {figures['test_macro_f1']:.3f} | |", flush=True)
            if how == "cli":
                env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db", "TRIAGE_ARTIFACT_ROOT": f"{store}/artifacts",
                       "TRIAGE_DATABASE_URL": f"sqlite:///{store}/triage.db", "PYTHONPATH": str(ROOT)}  # fmt: skip
                results = store / "summary.json"
                command = [sys.executable, "-c", "from triage.cli import app; app()", "train", "--data", str(data), "--results-fp", str(results)]
                seconds, peak, out = measure(command, env)
                print("\n".join("    " + line for line in out.splitlines() if line.startswith(("data report", "  "))), file=sys.stderr)
                summary = json.loads(results.read_text())
                scores = {"holdout_macro_f1": summary["holdout"]["macro_f1"], "external_macro_f1": summary.get("external", {}).get("macro_f1")}
                what = "triage train --data (data report, duplicate groups, time split, search, calibration, MLflow)"
            else:
                seconds, peak, out = measure(python(TRIAGE, str(data), str(store)))
                scores = json.loads(out.strip().splitlines()[-1])
                what = "triage train (search, calibration, MLflow)"
            external = scores["external_macro_f1"]
            print(
                f"| {label} | {what} | {seconds:.1f} | {peak:.0f} "
                f"| {scores['holdout_macro_f1']:.3f} | {'' if external is None else f'{external:.3f}'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
