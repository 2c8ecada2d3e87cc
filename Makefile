# Two entry points: `make run` (train on the sample, register, score it) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of PyTorch (only needed to distil the static embeddings); an unpinned torch is a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[train,spark,notebooks,dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/triage train
	mkdir -p outputs
	$(BIN)/triage score data/sample/tickets.csv -o outputs/sample_scored.csv

test: install
	$(BIN)/python -m pytest

serve: install
	$(BIN)/triage serve

bench: install
	$(BIN)/python benchmarks/routing.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/api.py

clean:
	rm -rf $(VENV) mlflow.db mlruns mlartifacts outputs models/embeddings
