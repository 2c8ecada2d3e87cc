"""Batch-run helpers for tests."""

from __future__ import annotations

from typing import Any

import pytest


def interrupt_at(job: Any, settings: Any, chunk: int) -> None:
    """Run ``job`` in this process and stop it with Ctrl-C once chunk ``chunk`` (0-based) is done."""
    from serving.batch.runner import run_job

    def interrupt(index: int) -> None:
        if index == chunk:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(job, settings, on_chunk=interrupt)
