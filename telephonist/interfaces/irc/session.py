"""What one registered connection knows about itself: nick, prefix, server features.

Theory of operation
-------------------
A :class:`Session` is fed every line the server sends (``observe``) and keeps the facts
the rest of the interface needs, without doing I/O:

* our current nick (001, our own NICK), so our own messages and their echoes are
  ignored and replies are split for the right prefix;
* our ``ident@host`` as the server relays it, learnt from the first place it shows up:
  the last word of RPL_WELCOME when it is a full mask, our own JOIN or echoed message,
  RPL_HOSTHIDDEN (396) and CHGHOST. Until then a safe maximum is assumed, so splitting
  is never too generous;
* ISUPPORT (005): CASEMAPPING (how nicks and channels compare), CHANTYPES, USERLEN,
  HOSTLEN;
* the channels we are in.

A new ``Session`` starts with every connection attempt: nothing carries over a reconnect.
"""

from __future__ import annotations

from .lines import Line, Source
from .text import SAFE_HOST_LENGTH, SAFE_IDENT_LENGTH

__all__ = ["Session", "casefold"]

_RFC1459 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
_STRICT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\", "abcdefghijklmnopqrstuvwxyz{}|")
_ASCII = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_TABLES = {"ascii": _ASCII, "rfc1459": _RFC1459, "strict-rfc1459": _STRICT}
_RFC1459_STRICT_ALIASES = {"rfc1459-strict": "strict-rfc1459"}


def casefold(name: str, casemapping: str = "rfc1459") -> str:
    """``name`` folded the way the server compares nicks and channels."""
    mapping = _RFC1459_STRICT_ALIASES.get(casemapping, casemapping)
    return name.translate(_TABLES.get(mapping, _RFC1459))


class Session:
    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.ident = ""
        self.host = ""
        self.registered = False
        self.server_name = ""
        self.isupport: dict[str, str] = {}
        self.channels: dict[str, str] = {}  # folded name -> name as the server spells it

    # -- comparisons ------------------------------------------------------------------

    @property
    def casemapping(self) -> str:
        return self.isupport.get("CASEMAPPING", "rfc1459").lower()

    def fold(self, name: str) -> str:
        return casefold(name, self.casemapping)

    def is_me(self, nick: str) -> bool:
        return self.fold(nick) == self.fold(self.nick)

    def is_channel(self, target: str) -> bool:
        return bool(target) and target[0] in self.isupport.get("CHANTYPES", "#&!+")

    def _limit(self, key: str, default: int) -> int:
        value = self.isupport.get(key, "")
        return int(value) if value.isdigit() else default

    def source_length(self) -> int:
        """Length of ``nick!ident@host`` as the server will prefix our lines."""
        ident = len(self.ident) or max(self._limit("USERLEN", 10) + 1, SAFE_IDENT_LENGTH)
        host = len(self.host) or max(self._limit("HOSTLEN", SAFE_HOST_LENGTH), SAFE_HOST_LENGTH)
        return len(self.nick.encode("utf-8")) + 1 + ident + 1 + host

    # -- learning ---------------------------------------------------------------------

    def _learn_mask(self, source: Source | None) -> None:
        if source is not None and source.ident and source.host and self.is_me(source.nick):
            self.ident, self.host = source.ident, source.host

    def observe(self, line: Line) -> None:
        command = line.command
        self._learn_mask(line.source)
        if command == "001":
            self.registered = True
            self.nick = line.param(0, self.nick)
            self.server_name = line.source.nick if line.source else ""
            last = line.param(-1).rsplit(" ", 1)[-1]
            if "!" in last and "@" in last:
                self._learn_mask(Source.parse(last))
        elif command == "005":
            for token in line.params[1:-1]:
                key, _, value = token.partition("=")
                if key.startswith("-"):
                    self.isupport.pop(key[1:], None)
                else:
                    self.isupport[key.upper()] = value
        elif command == "396" and len(line.params) >= 2:  # RPL_HOSTHIDDEN
            self.host = line.param(1)
        elif line.source is None:
            return
        elif command == "NICK" and self.is_me(line.source.nick):
            self.nick = line.param(0, self.nick)
        elif command == "CHGHOST" and self.is_me(line.source.nick):
            self.ident, self.host = line.param(0, self.ident), line.param(1, self.host)
        elif command == "JOIN" and self.is_me(line.source.nick):
            channel = line.param(0)
            self.channels[self.fold(channel)] = channel
        elif (command == "PART" and self.is_me(line.source.nick)) or (
            command == "KICK" and self.is_me(line.param(1))
        ):
            self.channels.pop(self.fold(line.param(0)), None)
