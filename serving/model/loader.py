"""Load the classifier from the MLflow registry, a logged model folder or a saved classifier folder."""

from __future__ import annotations

from pathlib import Path

from serving.model.classifier import META_FILE, TicketClassifier
from serving.settings import Settings, error_summary, get_settings, redact_credentials


class ModelLoadError(Exception):
    """The model could not be loaded; the message names the URI and the cause, credentials masked.

    Attributes:
        cause: the original error, kept for callers that classify it (the CLI's exit code) but not
            chained, so no traceback prints its unmasked message.
    """

    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message)
        self.cause = cause


def load_model(uri: str | None = None, settings: Settings | None = None) -> TicketClassifier:
    """Load the classifier that scoring needs.

    Args:
        uri: ``models:/name@alias``, ``models:/name/version``, ``runs:/...``, a folder with an
            ``MLmodel`` file, or a folder written by ``TicketClassifier.save``. Defaults to the champion.
        settings: where the tracking store is; the process settings when None.

    Returns:
        The classifier, with ``version`` set to the registered version when known.

    Raises:
        ModelLoadError: whatever went wrong (no such model, registry unreachable, not a triage
            model), summarised without credentials; the original is not chained, since MLflow's
            messages can carry the tracking URI's password.
    """
    settings = settings or get_settings()
    uri = uri or settings.model_uri
    try:
        path = Path(uri)
        if path.is_dir() and (path / META_FILE).exists():
            return TicketClassifier.load(path)
        import mlflow

        mlflow.set_tracking_uri(settings.tracking_uri)
        model = mlflow.pyfunc.load_model(uri)
        return model.unwrap_python_model().classifier
    except Exception as error:  # noqa: BLE001 - every cause is the same problem for the caller
        raise ModelLoadError(f"cannot load model {redact_credentials(uri)}: {error_summary(error)}", error) from None


def resolve_version(settings: Settings | None = None) -> str | None:
    """The registered version the champion alias points at now, or None if there is none."""
    import mlflow
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri)
    try:
        return str(client.get_model_version_by_alias(settings.model_name, settings.model_alias).version)
    except MlflowException:
        return None
