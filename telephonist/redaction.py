"""Secrets out of everything printed: errors, logs and status output.

Why here, at the bottom of the package: the layer (a Redis URL with ``user:pass@``),
the configuration (an interface's passwords) and the commands all print values that
may hold a secret, and each must mask it the same way. Secret settings are
``pydantic.SecretStr`` end to end, which prints as ``**********``; what this module
covers is everything else that may carry one:

* :func:`strip_credentials` removes ``user:password@`` from every URL in a text (the
  URL stays readable: ``redis://***@10.0.0.5:6379/0``);
* :func:`redact` copies a configuration value (dicts, lists, strings) with the values
  of secret-named keys masked (``password``, ``sasl_password``, a channel ``key``,
  ``auth_users``' passwords, tokens, signing secrets...) and URLs stripped, for error
  messages that show what the user wrote;
* :func:`is_secret_key` says whether a setting name is such a key;
* :func:`loggable_channel` shortens a process-specific channel name for a log line.

Why reply channel names are shortened: a reply channel is how a consumer reaches one
connection, and it used to be what a channel session was found by. A log reader (a
shared log host, a support ticket with a pasted log) must learn nothing they could use,
so a log line says ``srv.…!ws.…#3fa2c1``: which process kind and which interface, plus
a short hash that ties the lines about one connection together and cannot be reversed
(the names carry 64 random bits; the hash keeps 24).

A boolean or number under a secret-looking name (``auth_required = true``) is shown:
it says nothing an attacker could use, and hiding it would make the error unreadable.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretBytes, SecretStr

__all__ = ["MASK", "is_secret_key", "loggable_channel", "redact", "strip_credentials"]

MASK = "**********"

# Setting names whose value is a secret. ``key`` alone is an IRC channel key; ``*_key``
# covers ``api_key`` and private-key paths (a path is no secret, but masking it costs
# nothing); ``auth_users`` maps logins to passwords.
_SECRET_NAME = re.compile(
    r"(?i)(pass(word|wd|phrase)?$|secret|token|credential|^key$|_key$|auth_users|cookie"
    r"|signature|^sasl_password$)"
)
# scheme://anything-up-to-the-last-@-before-whitespace: greedy on purpose, so a password
# holding "/" or "@" (unencoded, as people write them) is still removed whole.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s'\"<>]*@")


def is_secret_key(name: object) -> bool:
    """Whether a setting called ``name`` holds a secret."""
    return isinstance(name, str) and _SECRET_NAME.search(name) is not None


def strip_credentials(text: str) -> str:
    """``text`` with every ``scheme://user:pass@`` reduced to ``scheme://***@``."""
    if "://" not in text or "@" not in text:
        return text
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def _masked(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        # auth_users: the logins are not secret, their passwords are.
        return {k: MASK for k in value}
    return MASK


def redact(value: Any) -> Any:
    """A copy of ``value`` fit to print (see the module docstring)."""
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, Mapping):
        return {k: _masked(v) if is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, str):
        return strip_credentials(value)
    if isinstance(value, bytes):
        return strip_credentials(value.decode("latin-1")).encode("latin-1")
    return value


def loggable_channel(name: object) -> str:
    """``srv.ab12.cd34!ws.5e6f`` -> ``srv.…!ws.…#3fa2c1``; other names as they are.

    Only process-specific names (with ``!``) are shortened: ``websocket.receive`` is a
    public name, and saying it is what makes a log line useful."""
    text = str(name)
    if "!" not in text:
        return text
    head, _, tail = text.partition("!")
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:6]
    kind = head.split(".", 1)[0]
    label = tail.split(".", 1)[0] if "." in tail else ""
    return f"{kind}.…!{label + '.' if label else ''}…#{digest}"
