"""Slack message text made readable, for the common chat key ``text``. No I/O.

Slack sends text in its markup: user mentions ``<@U123>`` (or ``<@U123|name>``),
channel links ``<#C123|general>``, special mentions ``<!here>``, ``<!channel>``,
``<!everyone>``, user groups ``<!subteam^S123|@team>``, dates
``<!date^1392734382^{date}|Feb 18, 2014>``, links ``<https://x.org|label>``, and the
three escapes ``&amp;`` ``&lt;`` ``&gt;`` (docs: formatting text for app surfaces).
:func:`render` turns that into what a person would read: ``@Alice``, ``#general``,
``@here``, ``@team``, ``Feb 18, 2014``, ``label (https://x.org)``, ``<`` ``>`` ``&``.
Names come from ``users`` and ``channels`` (ids to display names, filled by the caller
from ``users.info``/``conversations.info``); an unknown id stays visible as it is
(``@U123``). :func:`mentioned_ids` lists the ids a text needs names for.
The raw text is always kept beside the rendered one (``raw_text``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["mentioned_ids", "render"]

_TOKEN = re.compile(r"<([^<>]*)>")
_SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_ids(text: str) -> tuple[set[str], set[str]]:
    """``(user ids, channel ids)`` mentioned without a label in ``text``."""
    users: set[str] = set()
    channels: set[str] = set()
    for match in _TOKEN.finditer(text):
        body = match.group(1)
        target, _, label = body.partition("|")
        if label:
            continue
        if target.startswith("@") and len(target) > 1:
            users.add(target[1:])
        elif target.startswith("#") and len(target) > 1:
            channels.add(target[1:])
    return users, channels


def _token(body: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    target, _, label = body.partition("|")
    if target.startswith("@"):
        name = label or users.get(target[1:]) or target[1:]
        return "@" + name.lstrip("@")
    if target.startswith("#"):
        name = label or channels.get(target[1:]) or target[1:]
        return "#" + name.lstrip("#")
    if target.startswith("!"):
        command = target[1:]
        if command in _SPECIAL:
            return _SPECIAL[command]
        if label:  # subteams, dates and anything newer carry a readable fallback
            return label
        return "@" + command.split("^", 1)[0]
    if not target:
        return label
    address = target.removeprefix("mailto:")
    if label and label not in (target, address):
        return f"{label} ({address})"
    return address


def render(
    text: str, users: Mapping[str, str] | None = None, channels: Mapping[str, str] | None = None
) -> str:
    """Readable ``text`` (see the module docstring). Total: any string renders."""
    users = users or {}
    channels = channels or {}
    out = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(_unescape(text[position : match.start()]))
        out.append(_unescape(_token(match.group(1), users, channels)))
        position = match.end()
    out.append(_unescape(text[position:]))
    return "".join(out)
