"""What the bridge links, from one setting per protocol (``settings.py``).

* ``MULTICHAT_IRC=ircs://irc.libera.chat/#mychannel``: connect to that network and
  bridge the channel to room ``mychannel`` (``?room=lobby`` bridges it to ``lobby``
  instead; ``?nick=`` names the bot; ``irc://`` is without TLS, port 6667 by default).
* ``MULTICHAT_MAILBOX=room-{room}@localhost`` (the default): every room has a mailbox;
  mail to ``room-kitchen@localhost`` posts in room ``kitchen``. Empty: no mailboxes.
* ``MULTICHAT_SLACK=#lobby``: bridge that Slack channel to room ``lobby`` (``?room=x``
  bridges it to ``x``). With the Slack interface's tokens in the environment
  (``TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN``, ``..._APP_TOKEN``) that is your Slack;
  without them, the Slack stand-in runs in the same process with that channel, and its
  page (``MULTICHAT_SLACK_PORT``, default 8025) lets you post as a Slack user.

Every IRC channel (and Slack channel) the bot is in is bridged to the room of its name
(``#kitchen`` to ``kitchen``), so networks configured another way
(``TELEPHONIST_INTERFACES__IRC__NETWORKS``) bridge too.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ROOM = re.compile(r"^[-a-z0-9_]{1,50}$")


def room_name(text: str) -> str:
    """A valid room name made from ``text`` (a channel name, say)."""
    name = re.sub(r"[^-a-z0-9_]", "-", text.lower().lstrip("#&")).strip("-")[:50]
    return name or "lobby"


def _channel_and_query(url: str) -> tuple[str, dict[str, list[str]]]:
    """``#channel`` and the options of ``irc://host/#channel?nick=x`` (the channel's
    ``#`` starts a URL fragment, so its options are inside it; ``/?nick=x#channel``
    works too)."""
    parts = urlsplit(url)
    fragment, _, options = parts.fragment.partition("?")
    channel = "#" + fragment if fragment else parts.path.lstrip("/")
    query = parse_qs(parts.query)
    query.update(parse_qs(options))
    return unquote(channel), query


def irc_network(url: str) -> dict[str, Any]:
    """The IRC interface's network settings for ``MULTICHAT_IRC``."""
    parts = urlsplit(url)
    if parts.scheme not in ("irc", "ircs") or not parts.hostname:
        raise ValueError(f"MULTICHAT_IRC must be irc[s]://host[:port]/#channel, not {url!r}")
    tls = parts.scheme == "ircs"
    channel, query = _channel_and_query(url)
    nick = query.get("nick", ["multichat"])[0]
    return {
        "name": "irc",
        "host": parts.hostname,
        "port": parts.port or (6697 if tls else 6667),
        "tls": tls,
        "nick": nick,
        "alt_nicks": [f"{nick}_", f"{nick}-bot"],
        "channels": [channel] if channel else [],
    }


def slack_channel(setting: str) -> tuple[str, str]:
    """``(channel, room)`` of ``MULTICHAT_SLACK`` (``#lobby``, ``lobby?room=general``)."""
    channel, _, query = setting.partition("?")
    channel = channel.strip().lstrip("#")
    if not channel:
        raise ValueError(f"MULTICHAT_SLACK must name a channel, like #lobby, not {setting!r}")
    room = parse_qs(query).get("room", [room_name(channel)])[0]
    return channel, room_name(room)


def links(irc_url: str, mailbox: str, irc: bool, slack: str = "") -> dict[str, list[Any]]:
    """The bridge's ``links``: patterns every room has (its IRC channel when ``irc``
    networks are configured, its Slack channel when ``slack`` is, its mailbox), and the
    configured channels."""
    patterns: list[Any] = ["irc:#{room}"] if irc else []
    if slack:
        patterns.append("slack:{room}")
    if mailbox:
        patterns.append(f"email:{mailbox}")
    found: dict[str, list[Any]] = {"*": patterns}
    if slack:
        channel, room = slack_channel(slack)
        if channel != room:
            found.setdefault(room, []).append(f"slack:{channel}")
    if irc_url:
        network = irc_network(irc_url)
        query = _channel_and_query(irc_url)[1]
        for channel in network["channels"]:
            room = query.get("room", [room_name(channel)])[0]
            if f"#{room}" != channel.lower():
                found.setdefault(room_name(room), []).append(f"irc:{channel}")
    return found


def mail_domain(mailbox: str) -> str:
    return mailbox.rpartition("@")[2] or "localhost"


def mail_recipients(mailbox: str) -> list[str]:
    """The email interface's ``recipients``: the mailboxes of valid room names
    (``room-{room}@localhost`` serves ``^room-[-a-z0-9_]{1,50}@localhost$``), so mail to
    any other address is refused at RCPT. No mailbox: none served."""
    if "{room}" not in mailbox:
        return [r"(?!)"]  # matches nothing: every address gets 550 5.1.1
    before, _, after = mailbox.lower().partition("{room}")
    return ["^" + re.escape(before) + ROOM.pattern[1:-1] + re.escape(after) + "$"]
