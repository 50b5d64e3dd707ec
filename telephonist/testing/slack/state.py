"""What the Slack stand-in knows: workspaces, their users, channels and messages.

Plain data with no I/O, so the Web API methods (``webapi.py``) are functions of this
state and the request. Identifiers look like Slack's (``T``/``U``/``C``/``B``/``V``
followed by upper-case letters and digits) so code that checks their shape keeps working.
"""

from __future__ import annotations

import itertools
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Channel", "Message", "StandInState", "Team", "User", "View", "new_id"]

_ALPHABET = string.ascii_uppercase + string.digits


def new_id(kind: str, length: int = 10) -> str:
    """A fresh Slack-shaped id: ``new_id("U")`` -> ``"U4K2Q..."``."""
    return kind + "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass
class User:
    id: str
    team_id: str
    name: str  # the legacy handle (``@name``)
    real_name: str = ""
    display_name: str = ""
    is_bot: bool = False
    bot_id: str | None = None

    def as_api(self) -> dict[str, Any]:
        """The ``user`` object of ``users.info``."""
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.display_name,
                "real_name_normalized": self.real_name,
                "display_name_normalized": self.display_name,
                **({"bot_id": self.bot_id} if self.bot_id else {}),
            },
        }


@dataclass
class Channel:
    id: str
    name: str
    is_im: bool = False
    is_private: bool = False

    def as_api(self) -> dict[str, Any]:
        """The ``channel`` object of ``conversations.info``."""
        info: dict[str, Any] = {"id": self.id, "is_im": self.is_im, "created": 0}
        if not self.is_im:
            info.update(
                name=self.name,
                is_channel=not self.is_private,
                is_group=self.is_private,
                is_private=self.is_private,
            )
        return info


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    blocks: list[Any] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)  # name -> user ids


@dataclass
class View:
    id: str
    team_id: str
    view: dict[str, Any]
    external_id: str | None = None
    hash: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class Team:
    id: str
    domain: str
    bot_token: str
    bot_user: User
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)


class StandInState:
    """Every workspace of the stand-in, its messages, views and trigger ids."""

    def __init__(self, app_id: str, app_token: str) -> None:
        self.app_id = app_id
        self.app_token = app_token
        self.teams: dict[str, Team] = {}
        self.messages: dict[tuple[str, str], Message] = {}  # (channel, ts) -> message
        self.views: dict[str, View] = {}
        self.triggers: dict[str, float] = {}  # trigger_id -> expiry (monotonic)
        self._last_ts = 0
        self._seq = itertools.count(1)

    # -- set-up -------------------------------------------------------------------------

    def add_team(self, team_id: str, domain: str, bot_token: str, bot_name: str) -> Team:
        bot = User(new_id("U"), team_id, bot_name, bot_name, bot_name, True, new_id("B"))
        team = Team(team_id, domain, bot_token, bot)
        team.users[bot.id] = bot
        self.teams[team_id] = team
        return team

    def team_of_token(self, token: str) -> Team | None:
        return next((t for t in self.teams.values() if t.bot_token == token), None)

    def find_channel(self, channel_id: str) -> tuple[Team, Channel] | None:
        for team in self.teams.values():
            found = team.channels.get(channel_id)
            if found is not None:
                return team, found
        return None

    # -- identifiers --------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message timestamp, unique and strictly increasing (Slack's are unique per
        channel; these are unique across the stand-in)."""
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_trigger(self, lifetime: float = 3.0) -> str:
        """A ``trigger_id`` that ``views.open``/``views.push`` accept for ``lifetime``
        seconds (Slack: 3 s)."""
        trigger = f"{next(self._seq)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self.triggers[trigger] = time.monotonic() + lifetime
        return trigger

    def take_trigger(self, trigger: str) -> str | None:
        """``None`` if ``trigger`` is valid (it is then used up), else Slack's error code."""
        expiry = self.triggers.pop(trigger, None)
        if expiry is None:
            return "invalid_trigger_id"
        if time.monotonic() > expiry:
            return "expired_trigger_id"
        return None
