"""Making consumer text safe and fitting it into IRC lines. Pure: no I/O.

Theory of operation
-------------------
Consumers write text for humans: it may contain line breaks, be any length and any
script. IRC carries one line of at most 512 bytes per command, and the server *relays*
our line to others with our full source prefix in front (``:nick!ident@host PRIVMSG
#room :text``), so the room for text is 512 minus that prefix, the command, the target
and CR LF. Over-long relayed lines are cut by servers, so we budget for the relayed form.

The policy, by kind of field:

* message text (``text``): each line break (CR LF, CR or LF) starts a new IRC message,
  which is what a multi-line reply means; NUL and CTCP's ``\\x01`` are removed (a
  ``\\x01`` would let text pose as a CTCP request); empty lines are skipped (servers
  refuse an empty PRIVMSG).
* single-line free text (a part/kick/quit reason, a topic): line breaks become spaces,
  NUL and ``\\x01`` are removed.
* identifiers (targets, channels, nicks, keys): never repaired; anything but one plain
  word is rejected by :func:`valid_word` so a reply cannot aim at a second target.

Inbound, the contract's ``text`` is plain: :func:`plain_text` removes IRC's formatting
codes *with* their colour arguments (``\x0304,01red`` reads ``red``, not ``04,01red``),
then applies the contract's ``safe_text`` like every other interface.

Splitting keeps every piece within a byte budget and never cuts a UTF-8 character; it
prefers to break at a space in the last third of a piece so words stay whole, and that
space is dropped: the line break stands in for it (servers strip trailing spaces anyway).
"""

from __future__ import annotations

import re

from ...chat import safe_text
from .lines import MAX_LINE_BYTES

__all__ = [
    "SAFE_HOST_LENGTH",
    "SAFE_IDENT_LENGTH",
    "message_lines",
    "plain_text",
    "relay_budget",
    "single_line",
    "split_utf8",
    "valid_word",
]

#: Used for our own prefix until the server tells us the real one: RFC 2812 allows 63
#: characters of host name, ircd USERLEN is usually 10 (plus a ``~`` for no ident).
SAFE_HOST_LENGTH = 63
SAFE_IDENT_LENGTH = 11

_BREAKS = re.compile(r"\r\n|\r|\n")
_STRIP = str.maketrans("", "", "\0\x01")
#: Characters that no identifier may hold: separators of the line and of target lists,
#: the trailing marker, BEL (RFC 2812 forbids it in channel names) and CTCP's delimiter.
_NOT_IN_WORDS = frozenset(" ,\r\n\0\x07\x01")


#: Colour (``\x03`` with up to two 1-2 digit numbers), hex colour (``\x04`` with up to
#: two RRGGBB values), and the toggles: bold, monospace, reverse, italics, strikethrough,
#: underline, reset.
_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


def _printable_ascii(text: str) -> bool:
    # No formatting code, line break, NUL or \x01 can hide in it: nothing to clean.
    return text.isascii() and text.isprintable()


def plain_text(text: str) -> str:
    """IRC text as the contract's plain, safe text (formatting and colours removed)."""
    if _printable_ascii(text):
        return text
    return safe_text(_FORMATTING.sub("", text))


def message_lines(text: str) -> list[str]:
    """Split ``text`` at its line breaks into IRC-safe lines (NUL, ``\\x01`` removed)."""
    if _printable_ascii(text):
        return [text] if text else []
    lines = (part.translate(_STRIP) for part in _BREAKS.split(text))
    return [line for line in lines if line]


def single_line(text: str) -> str:
    """``text`` as one IRC-safe line: line breaks become spaces."""
    return _BREAKS.sub(" ", text).translate(_STRIP)


def valid_word(word: object, max_length: int = 200) -> bool:
    """Whether ``word`` can be sent as one middle parameter (a target, channel, nick, key)."""
    return (
        isinstance(word, str)
        and 0 < len(word) <= max_length
        and not word.startswith(":")
        and _NOT_IN_WORDS.isdisjoint(word)
    )


def relay_budget(command: str, target: str, source_length: int) -> int:
    """Bytes left for the text of ``command target :text`` as relayed by the server.

    ``source_length`` is the length of our ``nick!ident@host``; the relayed line is
    ``:`` + source + `` `` + command + `` `` + target + `` :`` + text + CR LF."""
    overhead = 1 + source_length + 1 + len(command) + 1 + len(target.encode("utf-8")) + 2 + 2
    return MAX_LINE_BYTES - overhead


def _cut(data: bytes, limit: int) -> int:
    """Largest ``n <= limit`` such that ``data[:n]`` ends on a UTF-8 character boundary."""
    n = min(limit, len(data))
    # Continuation bytes are 0b10xxxxxx: step back over at most 3 of them.
    while 0 < n < len(data) and (data[n] & 0xC0) == 0x80:
        n -= 1
    return n


def split_utf8(text: str, budget: int) -> list[str]:
    """Split ``text`` into pieces of at most ``budget`` UTF-8 bytes each.

    Never cuts inside a character; breaks at the last space of a piece when that space
    lies in the piece's last third (dropping that space), else at the byte budget.
    ``budget`` must allow one character (4 bytes)."""
    if budget < 4:
        raise ValueError(f"budget of {budget} bytes cannot hold a UTF-8 character")
    data = text.encode("utf-8")
    pieces: list[str] = []
    start = 0
    # Bounded: every pass advances ``start`` by at least one character.
    while start < len(data):
        rest = data[start:]
        if len(rest) <= budget:
            pieces.append(rest.decode("utf-8"))
            break
        n = _cut(rest, budget + 1)
        space = rest.rfind(b" ", 0, n)
        if space >= (2 * budget) // 3:
            pieces.append(rest[:space].decode("utf-8"))  # words stay whole
            start += space + 1
            continue
        n = _cut(rest, budget)
        pieces.append(rest[:n].decode("utf-8"))
        start += n
    return pieces
