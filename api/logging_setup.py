"""How log lines look: text for people or JSON for collectors, each with the request's id.

`log_config` is the `logging.config.dictConfig` the server runs with (the CLI
hands it to uvicorn): uvicorn's and Heatshield's loggers, and the root logger
for other libraries' warnings, on one console handler. That handler's filters
stamp every record with the id of the request it was written in
(`api.request_context`) and scrub registered secrets from it
(`connectors.http.redaction`), whichever logger wrote it. The JSON formatter
writes only the fields below, never a record's other attributes, and scrubs a
traceback as well; `api.envelope` already keeps query strings out of access lines.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import DefaultFormatter

from api.request_context import current_request_id
from connectors.http.redaction import SCRUBBER

NO_REQUEST = "-"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or NO_REQUEST
        return True


def _scrubber() -> logging.Filter:
    return SCRUBBER


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, trace_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": SCRUBBER.scrub(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id and request_id != NO_REQUEST:
            line["request_id"] = request_id
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"] = format(context.trace_id, "032x")
            line["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            line["exception"] = SCRUBBER.scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(DefaultFormatter):
    """uvicorn's console format with the request id after the level."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or NO_REQUEST
        return super().formatMessage(record)


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup plus Heatshield's loggers on the same console handler.

    Run uvicorn with `access_log=False` beside it: `api.envelope` writes the access
    lines, without query strings.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["heatshield"] = {"handlers": ["default"], "level": level.upper(),
                                       "propagate": False}
    # aiosqlite logs each statement with its parameters at DEBUG (password hashes
    # included); never below INFO, whatever level the server runs at.
    config["loggers"]["aiosqlite"] = {"level": "INFO"}
    return config


def log_config(level: str, format: Literal["text", "json"] = "text") -> dict[str, Any]:
    config = uvicorn_log_config(level)
    config["filters"] = {"request_id": {"()": RequestIdFilter}, "redact": {"()": _scrubber}}
    if format == "json":
        formatter: dict[str, Any] = {"()": JsonFormatter}
    else:
        formatter = {"()": TextFormatter, "fmt": "%(levelprefix)s [%(request_id)s] %(message)s",
                     "use_colors": None}
    config["formatters"] = {"default": formatter, "access": dict(formatter)}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id", "redact"]
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
