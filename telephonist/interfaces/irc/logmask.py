"""IRC lines fit for a log: credentials and channel keys masked. Pure.

Theory of operation
-------------------
At DEBUG the interface logs every line it sends and reads, and so did the ``irc``
library under it (``RAW: PASS :hunter2``). Some lines carry secrets, in both
directions:

=======================================  ==============================================
line                                     masked
=======================================  ==============================================
``PASS``, ``OPER``                        every parameter
``AUTHENTICATE <blob>``                   the blob (``+``, ``*`` and mechanism names stay)
``JOIN #a,#b key1,key2``                  the keys
``MODE #c +k key``, ``324 me #c +k key``  the mode arguments when the modes hold ``k``
``NS``/``NICKSERV``/``CS``/... commands   every parameter
``PRIVMSG NickServ :IDENTIFY pw``         the text after the services verb
=======================================  ==============================================

:func:`masked` does that to one raw line (tags and source are kept: they hold no
secret and tell lines apart). :class:`RawLineFilter` applies it to the ``irc``
library's own log records, so a DEBUG root logger cannot bring them back: the
connection no longer logs through the library (``transport.py``), and the filter is
the second lock on the same door.
"""

from __future__ import annotations

import logging

__all__ = ["MASK", "RawLineFilter", "install_library_filters", "masked"]

MASK = "****"

_ALL_PARAMS = {"PASS", "OPER", "NS", "CS", "NICKSERV", "CHANSERV", "HS", "HOSTSERV",
               "IDENTIFY", "LOGIN"}  # fmt: skip
_SASL_WORDS = {"+", "*", "PLAIN", "EXTERNAL", "SCRAM-SHA-1", "SCRAM-SHA-256"}
_SERVICE_VERBS = {"IDENTIFY", "REGISTER", "GHOST", "REGAIN", "RECOVER", "RELEASE",
                  "SETPASS", "LOGIN", "AUTH", "SET"}  # fmt: skip


def _split(line: str) -> tuple[str, str, list[str]]:
    """``(head, command, params)``: head is the tags and source, kept as sent."""
    words = line.split(" ")
    head: list[str] = []
    while words and words[0].startswith(("@", ":")):
        head.append(words.pop(0))
    command = words.pop(0) if words else ""
    params: list[str] = []
    for index, word in enumerate(words):
        if word.startswith(":"):
            params.append(" ".join(words[index:]))
            break
        params.append(word)
    return " ".join(head), command, params


def _join(head: str, command: str, params: list[str]) -> str:
    return " ".join(part for part in (head, command, *params) if part)


def _mask_modes(params: list[str], at: int) -> list[str]:
    """Mask the arguments after the mode string at ``params[at]`` if it sets a key."""
    if len(params) > at and "k" in params[at].lstrip(":"):
        return [*params[: at + 1], *(MASK for _ in params[at + 1 :])]
    return params


def masked(line: str) -> str:
    """``line`` with its secrets replaced by ``****`` (see the module docstring)."""
    head, command, params = _split(line)
    verb = command.upper()
    if not params:
        return line
    if verb in _ALL_PARAMS:
        params = [MASK]
    elif verb == "AUTHENTICATE":
        params = [p if p.lstrip(":").upper() in _SASL_WORDS else MASK for p in params]
    elif verb == "JOIN" and len(params) > 1:
        params = [params[0], MASK]
    elif verb == "MODE":
        params = _mask_modes(params, 1)
    elif verb == "324":  # RPL_CHANNELMODEIS: me #channel modes args...
        params = _mask_modes(params, 2)
    elif verb in ("PRIVMSG", "NOTICE") and len(params) > 1 and params[0].lower().endswith("serv"):
        text = params[1].lstrip(":").split(" ", 1)
        if text[0].upper() in _SERVICE_VERBS and len(text) > 1:
            params = [params[0], f":{text[0]} {MASK}"]
    else:
        return line
    return _join(head, command, params)


# The library's records: ``RAW: <line>`` (sent, asyncio), ``TO SERVER: <line>`` (sent,
# sockets), ``FROM SERVER: <line>`` (read).
_LABELS = ("RAW: ", "TO SERVER: ", "FROM SERVER: ")


class RawLineFilter(logging.Filter):
    """Masks the raw lines in the ``irc`` library's log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: drop it rather than risk its content
            return False
        for label in _LABELS:
            if text.startswith(label):
                record.msg = label + masked(text[len(label) :])
                record.args = ()
                break
        return True


def install_library_filters() -> None:
    """Put :class:`RawLineFilter` on the ``irc`` library's loggers (once)."""
    for name in ("irc.client", "irc.client_aio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RawLineFilter) for f in logger.filters):
            logger.addFilter(RawLineFilter())
