"""The served model and its hot reload: load a new champion beside the old one, then swap one reference.

A request takes ``holder.current`` once and scores with that object to the end, so a swap never
affects a request in flight and never leaves a moment without a model. A failed load keeps the old
model serving.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from serving.model.classifier import TicketClassifier
from serving.model.loader import load_model, resolve_version
from serving.settings import Settings, error_summary, redact_credentials

log = logging.getLogger(__name__)

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A classifier with where and when it was loaded."""

    classifier: TicketClassifier
    uri: str
    loaded_at: datetime
    registry_version: str | None = None  # the version the alias resolved to; None for a fixed URI


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What a reload attempt did."""

    reloaded: bool
    previous_version: str | None
    version: str | None
    detail: str
    failed: bool = False


class ModelHolder:
    """Holds the served model and replaces it when the registry alias moves.

    Args:
        settings: tracking store and registry names.
        uri: the model to serve; an alias URI (``models:/name@alias``) is followed as it moves,
            any other URI (a fixed version, a run, a folder) is loaded once.
        on_swap: called with the new classifier after every successful swap (metrics).
        on_failure: called after every failed load (metrics).
    """

    def __init__(
        self,
        settings: Settings,
        uri: str,
        on_swap: Callable[[TicketClassifier], None] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.uri = uri
        self._on_swap = on_swap
        self._on_failure = on_failure
        self._current: LoadedModel | None = None
        self._failed_version: str | None = None  # a registry version that failed to load
        self._lock = asyncio.Lock()  # one load at a time: the poller and POST /v1/model/reload may race
        match = _ALIAS_URI.match(uri)
        self._alias_settings = (
            settings.model_copy(update={"model_name": match["name"], "model_alias": match["alias"]})
            if match
            else None
        )

    @property
    def current(self) -> LoadedModel | None:
        """The model serving now, or None before the first successful load."""
        return self._current

    @property
    def follows_alias(self) -> bool:
        """True when the URI is a registry alias, so polling can see it move."""
        return self._alias_settings is not None

    def _target(self) -> tuple[str | None, str]:
        """The version the URI points at now (None when unknown) and the URI that loads exactly it."""
        if self._alias_settings is None:
            return None, self.uri
        resolved = resolve_version(self._alias_settings)
        if resolved is None:
            return None, self.uri
        version = str(resolved)  # the registry may hand back an int; the model reports a str
        # Load the resolved version, not the alias: the alias could move between the two calls.
        return version, f"models:/{self._alias_settings.model_name}/{version}"

    async def refresh(self, *, force: bool = False, retry_failed: bool = True) -> ReloadResult:
        """Load the model the URI points at if it differs from the one serving, then swap.

        Args:
            force: load again even when the version has not changed.
            retry_failed: try again a registry version whose load failed before (the poller says
                False, so a broken champion is logged once, not on every poll).

        Returns:
            What happened; ``failed`` is True when a load was attempted and raised.
        """
        async with self._lock:
            previous = self._current.classifier.version if self._current else None
            # Compare registry versions: a version registered from another's artifacts reports the
            # version baked into its files, and comparing that would reload on every poll.
            loaded_version = self._current.registry_version if self._current else None
            try:
                version, exact_uri = await asyncio.to_thread(self._target)
            except Exception as error:  # registry unreachable: keep serving what we have
                log.warning("model registry lookup failed", extra={"error_type": type(error).__name__, "error": error_summary(error)})
                return ReloadResult(False, previous, previous, "registry lookup failed", failed=True)
            if self.follows_alias and version is None:
                return ReloadResult(
                    False, previous, previous, f"no version behind {redact_credentials(self.uri)}", failed=previous is None
                )
            if not force and self._current is not None and (version is None or version == loaded_version):
                return ReloadResult(False, previous, previous, "already serving the current version")
            if not retry_failed and version is not None and version == self._failed_version:
                return ReloadResult(False, previous, previous, f"version {version} failed to load before", failed=True)
            started = time.perf_counter()
            try:
                classifier = await asyncio.to_thread(load_model, exact_uri, self.settings)
            except Exception as error:
                log.error(
                    "model load failed; still serving the previous model",
                    extra={
                        "uri": redact_credentials(exact_uri),
                        "previous_version": previous,
                        "error_type": type(error).__name__,
                        "error": error_summary(error),
                    },
                )
                self._failed_version = version
                if self._on_failure is not None:
                    self._on_failure()
                return ReloadResult(False, previous, previous, f"loading {redact_credentials(exact_uri)} failed", failed=True)
            # The atomic swap; the URI is kept for display (GET /v1/model), so without credentials.
            self._current = LoadedModel(classifier, redact_credentials(exact_uri), datetime.now(UTC), version)
            if self._on_swap is not None:
                self._on_swap(classifier)
            log.info(
                "model loaded",
                extra={
                    "uri": redact_credentials(exact_uri),
                    "version": classifier.version,
                    "registry_version": version,
                    "previous_version": previous,
                    "load_seconds": round(time.perf_counter() - started, 3),
                },
            )
            return ReloadResult(True, previous, classifier.version, f"now serving version {classifier.version}")

    async def poll(self, interval_s: float) -> None:
        """Refresh every ``interval_s`` seconds until cancelled (the lifespan's background task).

        Args:
            interval_s: seconds between checks of the registry alias.
        """
        while True:
            await asyncio.sleep(interval_s)
            # A fixed URI that loaded once never changes; keep trying only until it loads.
            if not self.follows_alias and self._current is not None:
                continue
            try:
                await self.refresh(retry_failed=False)
            except Exception as error:  # the poller must outlive any surprise
                log.error("model poll failed", extra={"error_type": type(error).__name__})
