"""Older models still load and decide as before: those saved before the ``serving/model/`` move name
``serving.features.StaticEmbedder``, and those saved before the learned signals have no signal head."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from serving.model.classifier import ESTIMATOR_FILE, TicketClassifier
from serving.scoring import score_frame
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow


def _as_saved_before_the_move(folder):
    """Rewrite a saved classifier so its skops file names the old module path, as old files do."""
    path = folder / ESTIMATOR_FILE
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = members["schema.json"].decode()
    assert '"serving.model.features"' in schema
    members["schema.json"] = schema.replace('"serving.model.features"', '"serving.features"').encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)


def test_a_model_saved_before_the_move_gives_the_same_decisions(champion, tmp_path):
    import skops.io as sio

    folder = champion.save(tmp_path / "old")
    _as_saved_before_the_move(folder)
    assert "serving.features.StaticEmbedder" in sio.get_untrusted_types(file=folder / ESTIMATOR_FILE)

    old = TicketClassifier.load(folder, version=champion.version)
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).head(1500)
    now = pd.Timestamp("2026-03-05T18:00:00Z").to_pydatetime()
    pd.testing.assert_frame_equal(score_frame(old, frame, now=now), score_frame(champion, frame, now=now))


def test_a_model_saved_without_a_signal_head_routes_with_the_patterns(champion, tmp_path):
    """Models trained before the learned signals have no head files: they load, and the rules read the patterns."""
    from serving.model.crisis import CRISIS_DIR
    from serving.model.heads import HEAD_FILE, HEAD_META_FILE
    from serving.rules.signals import PATTERNS
    from serving.rules.textprep import prepare_text

    folder = champion.save(tmp_path / "old")
    (folder / HEAD_FILE).unlink()
    (folder / HEAD_META_FILE).unlink()
    shutil.rmtree(folder / CRISIS_DIR)  # the learned crisis score came later still
    old = TicketClassifier.load(folder, version=champion.version)
    assert old.signal_head is None and old.predict_one("my account is locked").signals == {}
    np.testing.assert_array_equal(old.predict_proba(["my account is locked"]), champion.predict_proba(["my account is locked"]))

    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).head(600)
    now = pd.Timestamp("2026-03-05T18:00:00Z").to_pydatetime()
    decisions = score_frame(old, frame, now=now)
    technical = ((decisions["category"] == "technical") & ~decisions["safety_flag"]).to_numpy()
    locked = frame["text"].map(lambda t: PATTERNS["locked_out"](prepare_text(t))).to_numpy()
    assert technical.any() and (technical & locked).any()
    assert (decisions["rule_id"][technical & locked] == "TECH-LOCKED-OUT").all()
    assert (decisions["rule_id"][technical & ~locked] == "TECH-SUPPORT").all()
