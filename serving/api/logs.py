"""JSON log lines with the request id on every one of them.

Nothing here logs a request body: the only per-request line is the access line written by the
middleware (method, route template, status, duration), and uvicorn's own access log is off because
it would include the query string.
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from typing import Any

# "-" outside a request (start-up, the reload poller).
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def logging_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: JSON lines on stderr, uvicorn's loggers included.

    Args:
        level: root log level name.

    Returns:
        The config, also usable as uvicorn's ``log_config``.
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                "rename_fields": {"levelname": "level", "asctime": "time", "name": "logger"},
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure_logging(level: str = "info") -> None:
    """Install the JSON logging config.

    Args:
        level: root log level name.
    """
    logging.config.dictConfig(logging_config(level))
