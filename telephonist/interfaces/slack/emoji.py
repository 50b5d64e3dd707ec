"""Slack reaction names <-> the emoji people see. Pure.

Slack names reactions (``thumbsup``, ``+1``, ``tada``); the chat contract carries the
emoji itself (``👍``), which every other protocol can show. The table holds the common
reactions; any other name travels as ``:name:`` (readable everywhere, and Slack takes
it back as the same name), and an emoji outside the table cannot be a Slack reaction:
the reply falls back to its text or is declined (``chatreply.py``).
"""

from __future__ import annotations

import re

__all__ = ["emoji_of", "slack_name"]

_TABLE = {
    "+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎", "heart": "❤️",
    "smile": "😄", "slightly_smiling_face": "🙂", "joy": "😂", "laughing": "😆",
    "tada": "🎉", "eyes": "👀", "fire": "🔥", "rocket": "🚀", "pray": "🙏", "clap": "👏",
    "wave": "👋", "ok_hand": "👌", "white_check_mark": "✅", "heavy_check_mark": "✔️",
    "x": "❌", "warning": "⚠️", "thinking_face": "🤔", "cry": "😢", "sob": "😭",
    "wink": "😉", "sunglasses": "😎", "100": "💯", "star": "⭐", "raised_hands": "🙌",
    "muscle": "💪", "slightly_frowning_face": "🙁", "confused": "😕", "grin": "😁",
    "heart_eyes": "😍", "party_popper": "🎉", "question": "❓", "exclamation": "❗",
    "point_up": "☝️", "coffee": "☕", "bug": "🐛", "memo": "📝", "zap": "⚡",
}  # fmt: skip
#: Emoji -> the name Slack is given (the first name of each emoji above).
_NAMES: dict[str, str] = {}
for _name, _emoji in _TABLE.items():
    _NAMES.setdefault(_emoji, _name)
    _NAMES.setdefault(_emoji.replace("\ufe0f", ""), _name)  # with or without VS16

_NAME = re.compile(r"^:?([a-z0-9_+'-]{1,64}):?$")
_SKIN = re.compile(r"::skin-tone-\d$")


def emoji_of(name: str) -> str:
    """What a Slack reaction ``name`` looks like to other protocols."""
    name = _SKIN.sub("", name)
    return _TABLE.get(name, f":{name}:")


def slack_name(emoji: str) -> str | None:
    """The Slack reaction name for ``emoji`` (``👍`` or ``:tada:``), or ``None``."""
    found = _NAMES.get(emoji) or _NAMES.get(emoji.replace("\ufe0f", ""))
    if found:
        return found
    match = _NAME.match(emoji)
    if match and (emoji.startswith(":") or emoji.isascii()):
        return match.group(1)
    return None
