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
  HOSTLEN, PREFIX, CLIENTTAGDENY;
* the channels we are in, with their members (NAMES, then JOIN/PART/KICK/QUIT/NICK;
  at most ``MAX_MEMBERS`` each) and topics: the chat contract's member lists and
  mentions, and the rooms a QUIT leaves.

Two facts are about the line just observed, for the event mapping that follows it:
``completed_join`` (the channel whose NAMES list a 366 just ended, right after our own
JOIN: the moment our join is complete) and ``departed`` (the channels the user of a
QUIT was in, since the QUIT itself names none).

A new ``Session`` starts with every connection attempt: nothing carries over a reconnect.
"""

from __future__ import annotations

from .lines import Line, Source
from .text import SAFE_HOST_LENGTH, SAFE_IDENT_LENGTH

__all__ = ["MAX_MEMBERS", "Session", "casefold"]

#: Members remembered per channel; past it a huge channel's list is incomplete, never
#: unbounded.
MAX_MEMBERS = 10_000

_RFC1459 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
_STRICT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\", "abcdefghijklmnopqrstuvwxyz{}|")
_ASCII = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_TABLES = {"ascii": _ASCII, "rfc1459": _RFC1459, "strict-rfc1459": _STRICT}
_RFC1459_STRICT_ALIASES = {"rfc1459-strict": "strict-rfc1459"}
_FOLDED_KEPT = 4096  # folded names remembered per session


def casefold(name: str, casemapping: str = "rfc1459") -> str:
    """``name`` folded the way the server compares nicks and channels."""
    mapping = _RFC1459_STRICT_ALIASES.get(casemapping, casemapping)
    return name.translate(_TABLES.get(mapping, _RFC1459))


class Session:
    def __init__(self, nick: str) -> None:
        # Every line compares nicks and rooms the server's way. ``str.translate`` with a
        # mapping costs a dict lookup per character, so folded names are remembered
        # (the same few nicks and rooms come back line after line), and so is our own.
        self._table = _RFC1459
        self._folded: dict[str, str] = {}
        self._nick = nick
        self._folded_nick = self.fold(nick)
        self.ident = ""
        self.host = ""
        self.registered = False
        self.server_name = ""
        self.isupport: dict[str, str] = {}
        self.channels: dict[str, str] = {}  # folded name -> name as the server spells it
        self.members: dict[str, dict[str, str]] = {}  # folded channel -> folded nick -> nick
        self.topics: dict[str, str] = {}  # folded channel -> topic
        self._joining: set[str] = set()  # our JOIN seen, its NAMES not yet ended
        self.completed_join: str | None = None
        self.departed: tuple[str, ...] = ()

    # -- comparisons ------------------------------------------------------------------

    @property
    def nick(self) -> str:
        return self._nick

    @nick.setter
    def nick(self, nick: str) -> None:
        self._nick = nick
        self._folded_nick = self.fold(nick)

    @property
    def casemapping(self) -> str:
        return self.isupport.get("CASEMAPPING", "rfc1459").lower()

    def fold(self, name: str) -> str:
        folded = self._folded.get(name)
        if folded is None:
            if len(self._folded) >= _FOLDED_KEPT:
                self._folded.clear()  # bounded: a flood of new nicks only costs re-folding
            folded = self._folded[name] = name.translate(self._table)
        return folded

    def is_me(self, nick: str) -> bool:
        return nick == self._nick or self.fold(nick) == self._folded_nick

    def is_channel(self, target: str) -> bool:
        return bool(target) and target[0] in self.isupport.get("CHANTYPES", "#&!+")

    def _limit(self, key: str, default: int) -> int:
        value = self.isupport.get(key, "")
        return int(value) if value.isdigit() else default

    def client_tag_allowed(self, name: str) -> bool:
        """Whether the server lets clients send tag ``name`` (ISUPPORT CLIENTTAGDENY)."""
        denied = self.isupport.get("CLIENTTAGDENY", "").split(",")
        bare = name.lstrip("+")
        if "*" in denied:
            return f"-{bare}" in denied
        return bare not in denied

    def member_names(self, channel: str) -> list[str]:
        """The nicks in ``channel`` as the server spells them, sorted."""
        return sorted(self.members.get(self.fold(channel), {}).values(), key=str.lower)

    def rooms_of(self, nick: str) -> list[str]:
        folded = self.fold(nick)
        return [self.channels[c] for c, names in self.members.items() if folded in names]

    def source_length(self) -> int:
        """Length of ``nick!ident@host`` as the server will prefix our lines."""
        ident = len(self.ident) or max(self._limit("USERLEN", 10) + 1, SAFE_IDENT_LENGTH)
        host = len(self.host) or max(self._limit("HOSTLEN", SAFE_HOST_LENGTH), SAFE_HOST_LENGTH)
        return len(self.nick.encode("utf-8")) + 1 + ident + 1 + host

    # -- learning ---------------------------------------------------------------------

    def _learn_mask(self, source: Source | None) -> None:
        if source is not None and source.ident and source.host and self.is_me(source.nick):
            self.ident, self.host = source.ident, source.host

    def _prefixes(self) -> str:
        value = self.isupport.get("PREFIX", "(qaohv)~&@%+")
        return value.partition(")")[2] or "~&@%+"

    def _add_member(self, channel: str, nick: str) -> None:
        names = self.members.get(self.fold(channel))
        if names is not None and len(names) < MAX_MEMBERS:
            names[self.fold(nick)] = nick

    def _observe_members(self, line: Line) -> None:
        command, source = line.command, line.source
        if command == "353" and len(line.params) >= 4:  # RPL_NAMREPLY
            prefixes = self._prefixes()
            for item in line.param(3).split():
                self._add_member(line.param(2), item.lstrip(prefixes).split("!", 1)[0])
        elif command == "366":  # RPL_ENDOFNAMES
            folded = self.fold(line.param(1))
            if folded in self._joining:
                self._joining.discard(folded)
                self.completed_join = self.channels.get(folded, line.param(1))
        elif command == "332" and len(line.params) >= 3:  # RPL_TOPIC
            self.topics[self.fold(line.param(1))] = line.param(2)
        elif source is None:
            return
        elif command == "TOPIC":
            self.topics[self.fold(line.param(0))] = line.param(1)
        elif command == "JOIN" and not self.is_me(source.nick):
            self._add_member(line.param(0), source.nick)
        elif command in ("PART", "KICK"):
            gone = source.nick if command == "PART" else line.param(1)
            self.members.get(self.fold(line.param(0)), {}).pop(self.fold(gone), None)
        elif command == "QUIT":
            self.departed = tuple(self.rooms_of(source.nick))
            for names in self.members.values():
                names.pop(self.fold(source.nick), None)
        elif command == "NICK":
            old, new = self.fold(source.nick), line.param(0)
            for names in self.members.values():
                if names.pop(old, None) is not None:
                    names[self.fold(new)] = new

    def observe(self, line: Line) -> None:
        command = line.command
        self.completed_join, self.departed = None, ()
        self._learn_mask(line.source)
        self._observe_members(line)
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
            mapping = _RFC1459_STRICT_ALIASES.get(self.casemapping, self.casemapping)
            self._table = _TABLES.get(mapping, _RFC1459)
            self._folded.clear()
            self.nick = self._nick  # folded again, the new way
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
            folded = self.fold(channel)
            self.channels[folded] = channel
            self.members[folded] = {self.fold(self.nick): self.nick}
            self._joining.add(folded)
        elif (command == "PART" and self.is_me(line.source.nick)) or (
            command == "KICK" and self.is_me(line.param(1))
        ):
            folded = self.fold(line.param(0))
            self.channels.pop(folded, None)
            self.members.pop(folded, None)
            self.topics.pop(folded, None)
            self._joining.discard(folded)
