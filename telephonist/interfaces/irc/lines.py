"""IRC lines: parse what the server sends, format what we send. Pure: no I/O.

Theory of operation
-------------------
A line on the wire is ``[@tags ][:source ]COMMAND[ params...][ :trailing]`` followed by
CR LF (RFC 1459 section 2.3, IRCv3 message-tags). ``parse_line`` turns one decoded line
(without its CR LF) into a :class:`Line`; ``format_line`` does the reverse for what we
send and is the last guard of the wire: it refuses CR, LF and NUL anywhere, a space or a
leading ``:`` in any parameter but the last, and a line longer than 512 bytes. Everything
above it (reply mapping, text splitting) is expected never to trip it; if a bug ever does,
the result is an exception and a dropped line, never a second command on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "FORBIDDEN",
    "MAX_CLIENT_TAG_BYTES",
    "MAX_LINE_BYTES",
    "Line",
    "LineError",
    "Source",
    "UnsafeLine",
    "format_line",
    "parse_line",
    "wire_length",
]

#: RFC 1459: a line is at most 512 bytes including the CR LF (tags are extra, IRCv3).
MAX_LINE_BYTES = 512

#: Characters that end or corrupt a line; none of them may reach the wire in a parameter.
FORBIDDEN = frozenset("\r\n\0")

#: IRCv3 message-tags: the tags a client sends take at most 4094 bytes (with the ``@``
#: and the space, 4096), on top of the 512 of the line itself.
MAX_CLIENT_TAG_BYTES = 4094

_TAG_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}

_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


class LineError(ValueError):
    """A line from the server that cannot be parsed (empty, or no command)."""


class UnsafeLine(ValueError):
    """A line we were about to send that could smuggle a command or break framing."""


@dataclass(frozen=True, slots=True)
class Source:
    """Who a line is from: ``nick!ident@host`` for users, a bare name for servers."""

    nick: str
    ident: str = ""
    host: str = ""

    @classmethod
    def parse(cls, text: str) -> Source:
        nick, _, rest = text.partition("!")
        ident, _, host = rest.partition("@")
        if not rest:  # "nick@host" without ident, or a server name
            nick, _, host = text.partition("@")
        return cls(nick, ident, host)

    @property
    def mask(self) -> str:
        if not self.ident and not self.host:
            return self.nick
        return f"{self.nick}!{self.ident}@{self.host}"


@dataclass(frozen=True, slots=True)
class Line:
    """One parsed line. ``command`` is upper-case (numerics stay digits)."""

    command: str
    params: tuple[str, ...] = ()
    source: Source | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def param(self, index: int, default: str = "") -> str:
        return self.params[index] if -len(self.params) <= index < len(self.params) else default


def _unescape_tag_value(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 < len(value):
                nxt = value[i + 1]
                out.append(_TAG_UNESCAPES.get(nxt, nxt))
            i += 2  # a lone trailing backslash is dropped (message-tags spec)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _parse_tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        # Valueless tags become "" so messages stay msgpack-safe and uniform; a later
        # duplicate key wins, as the spec says.
        tags[key] = _unescape_tag_value(value)
    return tags


def parse_line(raw: str) -> Line:
    """Parse one line (CR LF already removed). Tolerates runs of spaces between parts."""
    rest = raw.lstrip(" ")
    tags: dict[str, str] = {}
    if rest.startswith("@"):
        tag_text, _, rest = rest[1:].partition(" ")
        tags = _parse_tags(tag_text)
        rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        source_text, _, rest = rest[1:].partition(" ")
        source = Source.parse(source_text)
        rest = rest.lstrip(" ")
    command, _, rest = rest.partition(" ")
    if not command:
        raise LineError(f"no command in line {raw[:80]!r}")
    params: list[str] = []
    # Bounded: every pass consumes at least one character of ``rest``.
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":"):
            params.append(rest[1:])
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return Line(command.upper(), tuple(params), source, tags)


def wire_length(text: str) -> int:
    """Bytes ``text`` takes on the wire as one line, CR LF included."""
    return len(text.encode("utf-8")) + 2


def _escape_tag_value(value: str) -> str:
    return "".join(_TAG_ESCAPES.get(ch, ch) for ch in value)


def _format_tags(tags: Mapping[str, str]) -> str:
    parts = []
    for key, value in tags.items():
        if not key or FORBIDDEN.intersection(key) or any(c in key for c in " ;=@"):
            raise UnsafeLine(f"bad tag name {key!r}")
        if "\0" in value:
            raise UnsafeLine(f"NUL in the value of tag {key!r}")
        parts.append(f"{key}={_escape_tag_value(value)}" if value else key)
    text = ";".join(parts)
    if len(text.encode("utf-8")) > MAX_CLIENT_TAG_BYTES:
        raise UnsafeLine(f"tags are over {MAX_CLIENT_TAG_BYTES} bytes")
    return f"@{text} "


def format_line(
    command: str, *params: str, trailing: bool = True, tags: Mapping[str, str] | None = None
) -> str:
    """Build a line to send (without CR LF). The last parameter is sent as a trailing
    one (``:...``) so it may contain spaces; the others must be single words, and so must
    the last one too with ``trailing=False`` (``JOIN #room key``). ``tags`` (IRCv3
    client tags such as ``+draft/reply``) are escaped and go in front; they do not count
    towards the 512 bytes of the line."""
    if not command or not command.isalnum():
        raise UnsafeLine(f"bad command {command!r}")
    for index, param in enumerate(params):
        if FORBIDDEN.intersection(param):
            raise UnsafeLine(f"CR, LF or NUL in parameter {index} of {command}")
        last = trailing and index == len(params) - 1
        if not last and (not param or " " in param or param.startswith(":")):
            raise UnsafeLine(f"parameter {index} of {command} is not a single word: {param!r}")
    if params and trailing:
        line = " ".join((command, *params[:-1], ":" + params[-1]))
    elif params:
        line = " ".join((command, *params))
    else:
        line = command
    if wire_length(line) > MAX_LINE_BYTES:
        raise UnsafeLine(f"{command} line is {wire_length(line)} bytes, over {MAX_LINE_BYTES}")
    return _format_tags(tags) + line if tags else line
