"""Prometheus metrics of the API. Labels are route templates and contract vocabulary, never ticket content.

Each app gets its own registry so several apps in one process (tests) do not collide. With
``--workers > 1`` the server sets ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` aggregates every worker.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from serving.model.classifier import TicketClassifier
from serving.decision import Decision

# Scoring one ticket takes milliseconds; batches of a thousand take around a second.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The API's metrics in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "triage_http_requests_total", "HTTP requests by route template, method and status.",
            ["endpoint", "method", "status"], registry=r,
        )
        self.latency = Histogram(
            "triage_http_request_duration_seconds", "HTTP request latency by route template, method and status.",
            ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.decisions = Counter(
            "triage_decisions_total", "Decisions by category, route and rule.", ["category", "route", "rule_id"], registry=r
        )
        self.rejected = Counter("triage_rejected_tickets_total", "Tickets rejected as invalid, by field.", ["field"], registry=r)
        self.needs_review = Counter("triage_needs_review_total", "Decisions flagged for human review.", registry=r)
        self.safety_flags = Counter("triage_safety_flag_total", "Decisions with a possible crisis.", registry=r)
        self.model_info = Gauge(
            "triage_model_info", "1 for the registered model version being served.", ["version"],
            multiprocess_mode="livemax", registry=r,
        )
        self.model_loaded = Gauge(
            "triage_model_loaded", "1 when a model is loaded and the server is ready.", multiprocess_mode="livemin", registry=r
        )
        self.scoring_admitted = Gauge(
            "triage_scoring_requests", "Scoring requests being scored or waiting for a scoring thread.",
            multiprocess_mode="livesum", registry=r,
        )
        self.scoring_refused = Counter(
            "triage_scoring_refused_total", "Scoring requests answered 503 because the queue was full.", registry=r
        )
        self.reloads = Counter("triage_model_reloads_total", "Model load attempts by outcome.", ["outcome"], registry=r)
        self.feedback = Counter(
            "triage_feedback_total", "Corrections stored through POST /v1/feedback, by corrected category.", ["category"], registry=r
        )
        self._version: str | None = None
        self.model_loaded.set(0)

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request.

        Args:
            endpoint: the route template (``/v1/triage``), never the raw path.
            method: HTTP method.
            status: response status code.
            seconds: time from the first byte received to the response sent.
        """
        code = str(status)
        self.requests.labels(endpoint, method, code).inc()
        self.latency.labels(endpoint, method, code).observe(seconds)

    def observe_decision(self, decision: Decision) -> None:
        """Count one decision.

        Args:
            decision: a scored ticket.
        """
        self.decisions.labels(decision.category, decision.route, decision.rule_id).inc()
        if decision.needs_review:
            self.needs_review.inc()
        if decision.safety_flag:
            self.safety_flags.inc()

    def model_swapped(self, classifier: TicketClassifier) -> None:
        """Record the version now served.

        Args:
            classifier: the newly loaded model.
        """
        if self._version is not None and self._version != classifier.version:
            self.model_info.labels(self._version).set(0)
        self._version = classifier.version
        self.model_info.labels(classifier.version).set(1)
        self.model_loaded.set(1)
        self.reloads.labels("loaded").inc()

    def process_exiting(self) -> None:
        """Drop this process's live gauges from the shared folder when several workers serve (a no-op otherwise)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.mark_process_dead(os.getpid())

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
