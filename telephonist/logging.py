"""Log set-up for the commands: readable lines by default, one JSON object per line with
``--log-format json`` (for log shippers). Values passed through ``extra={...}`` become
JSON fields, so structured context (channel, route, connection) survives as data.

Named ``telephonist.logging`` on purpose; inside the package ``import logging`` still
means the standard library (absolute imports).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal, TextIO

__all__ = ["JsonFormatter", "TextFormatter", "setup_logging"]

# Attributes every LogRecord has; anything else came from ``extra`` and is context.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """``12:00:01.123 INFO  telephonist.server: message key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = (
            f"{stamp}.{int(record.msecs):03d} {record.levelname:<5} "
            f"{record.name}: {record.getMessage()}"
        )
        extra = " ".join(f"{k}={v}" for k, v in _context(record).items())
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=repr)


def setup_logging(
    fmt: Literal["text", "json"] = "text", level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Replace the root handlers with one stderr handler in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
