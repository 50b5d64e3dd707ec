"""Configuration errors that name the offending key and value, secrets masked.

Pydantic reports a location tuple and a message; an operator needs the dotted key as it
appears in ``telephonist.toml`` and what they actually wrote, so every error becomes one
line ``interfaces.linechat.port: Input should be a valid integer (got 'abc')``.

What they wrote may be a secret: a model-level error (``relay username and password go
together``) gets the whole section as its input, passwords included, and a Redis URL
carries ``user:pass@``. So every value shown passes through
:func:`telephonist.core.redaction.redact`, a value whose own key is secret is shown as
``**********``, and every problem line has URL credentials stripped, whoever wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from ..redaction import MASK, is_secret_key, redact, strip_credentials

__all__ = ["ConfigError", "describe_validation_error"]


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = [strip_credentials(problem) for problem in problems]
        super().__init__("invalid configuration:\n  " + "\n  ".join(self.problems))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _shown(loc: Sequence[object], value: object) -> object:
    if any(is_secret_key(part) for part in loc) and not isinstance(value, bool | int | float):
        return MASK
    return redact(value)


def describe_validation_error(exc: ValidationError, prefix: str = "") -> list[str]:
    """One ``dotted.key: message (got value)`` line per pydantic error."""
    lines = []
    for error in exc.errors(include_url=False):
        parts = [prefix] if prefix else []
        parts += [str(p) for p in error["loc"]]
        key = ".".join(parts) or "(top level)"
        message = error["msg"]
        # Pydantic appends its own detail after a comma ("..., unable to parse string as an
        # integer"); the value the user wrote says the same thing more usefully.
        if message.startswith("Input should be") and ", " in message:
            message = message.split(", ", 1)[0]
        if error["type"] == "missing":
            lines.append(f"{key}: {message}")
        else:
            lines.append(f"{key}: {message} (got {_short(_shown(parts, error['input']))})")
    return lines
