"""Log set-up for the commands: readable lines by default, one JSON object per line with
``--log-format json`` (for log shippers). Values passed through ``extra={...}`` become
JSON fields, so structured context (channel, route, connection) survives as data.

Context on every JSON line where it applies, without every call site passing it:

* ``role``: what the process runs (``server``, ``worker``, ``all-in-one``), set once by
  the runtime (:func:`set_role`);
* ``interface``: from the logger's name (``telephonist.interfaces.irc``,
  ``telephonist.access.http``) or from the context;
* ``connection`` and ``route``: from :data:`connection_var` and :data:`route_var`,
  context variables the worker sets around each consumer run and the interface server
  sets in each reply channel's task, so a consumer's own log lines carry them too.

Secrets stay out in both formats: the message, the exception text and string fields
go through ``telephonist.redaction`` (``user:pass@`` in URLs removed, secret-named
fields masked).

Named ``telephonist.logging`` on purpose; inside the package ``import logging`` still
means the standard library (absolute imports).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, Literal, TextIO

from .redaction import loggable_channel, redact, strip_credentials

__all__ = [
    "JsonFormatter",
    "TextFormatter",
    "connection_var",
    "interface_var",
    "route_var",
    "set_role",
    "setup_logging",
]

#: The connection (its reply channel) a line is about; written shortened
#: (``loggable_channel``), and only when a line is written.
connection_var: ContextVar[str | None] = ContextVar("telephonist_connection", default=None)
#: The route (as the routing describes it) whose consumer is running.
route_var: ContextVar[str | None] = ContextVar("telephonist_route", default=None)
#: The interface a line is about, where the logger's name does not say it.
interface_var: ContextVar[str | None] = ContextVar("telephonist_interface", default=None)

_role: str | None = None

_INTERFACE_LOGGERS = ("telephonist.interfaces.", "telephonist.access.")


def set_role(role: str | None) -> None:
    """What this process runs, on every JSON line from now on."""
    global _role
    _role = role


def _connection() -> str | None:
    name = connection_var.get()
    return None if name is None else loggable_channel(name)


def _interface(record: logging.LogRecord) -> str | None:
    for head in _INTERFACE_LOGGERS:
        if record.name.startswith(head):
            return record.name[len(head) :].split(".", 1)[0]
    return interface_var.get()


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
            f"{record.name}: {strip_credentials(record.getMessage())}"
        )
        context = _context(record)
        context.pop("access", None)  # the access line already says it, for JSON only
        extra = " ".join(f"{k}={v}" for k, v in redact(context).items())
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:
            line = f"{line}\n{strip_credentials(self.formatException(record.exc_info))}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, then
    ``role``, ``interface``, ``connection`` and ``route`` where they apply, then the
    call's own ``extra`` fields (which win over the context)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "message": strip_credentials(record.getMessage()),
        }
        for key, value in (
            ("role", _role),
            ("interface", _interface(record)),
            ("connection", _connection()),
            ("route", route_var.get()),
        ):
            if value is not None:
                data[key] = value
        data.update(redact(_context(record)))
        if record.exc_info:
            data["exception"] = strip_credentials(self.formatException(record.exc_info))
        return json.dumps(data, default=lambda v: strip_credentials(repr(v)))


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
