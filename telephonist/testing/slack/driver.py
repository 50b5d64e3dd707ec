"""``SlackStandIn``: the stand-in server plus what a test does as "Slack" and its users.

Socket Mode: ``message``, ``mention``, ``reaction``, ``command``, ``interaction`` and
``push_event`` send payloads to the connected app and return the :class:`Delivery`,
whose ``acked()`` waits for the app's acknowledgement (and its payload, where Slack
accepts one). Events API over HTTP: ``http_request`` builds a signed request (or a
forged, stale, tampered or unsigned one) and ``post`` sends it to the app's URL.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import aiohttp

from . import payloads
from .server import StandInServer
from .signing import Tamper, form_body, signed_request
from .socket import Delivery, Link
from .state import Channel, Message, Team, User

__all__ = ["SlackStandIn"]

#: Interactive payload types whose envelope says ``accepts_response_payload``: Slack
#: reads the ack for view_submission (response_action) and block_suggestion (options).
_ACK_PAYLOAD_INTERACTIONS = ("view_submission", "block_suggestion", "shortcut", "message_action")


class SlackStandIn(StandInServer):
    """Use as ``async with SlackStandIn() as slack:``; see ``docs/slack.md``."""

    echo_bot_messages = False  # push the bot's own posts back as message events, as Slack does

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        self.web.echo = self._echo
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- Socket Mode ----------------------------------------------------------------------

    async def wait_connected(self, n: int = 1, within: float = 10.0) -> list[Link]:
        """Wait until ``n`` Socket Mode links are up (and were sent ``hello``)."""
        links: list[Link] = await self.wait_until(
            lambda: self.socket.live_links() if len(self.socket.live_links()) >= n else None,
            within,
        )
        return links

    async def disconnect(self, reason: str, link: Link | None = None) -> Link:
        """Send ``{"type": "disconnect", "reason": reason}`` on ``link`` (default: the
        oldest live one); see ``socket.py`` for when the link then closes."""
        return await self.socket.disconnect(reason, link)

    async def freeze(self, link: Link) -> None:
        """Stop reading ``link``: no acks, no pongs, nothing sent (a stale connection).
        Returns once the link is no longer read."""
        link.frozen.set()
        async with asyncio.timeout(5):
            await link.not_reading.wait()

    def push(self, kind: str, payload: dict[str, Any], accepts_response_payload: bool) -> Delivery:
        return self.socket.push(kind, payload, accepts_response_payload)

    def push_event(
        self, event: dict[str, Any], *, team: Team | None = None, event_id: str | None = None
    ) -> Delivery:
        return self.push("events_api", self.event_callback(event, team=team, event_id=event_id),
                         False)  # fmt: skip

    def event_callback(
        self, event: dict[str, Any], *, team: Team | None = None, event_id: str | None = None
    ) -> dict[str, Any]:
        team = team or self.team
        return payloads.event_callback(event, team_id=team.id, app_id=self.app_id,
                                       bot_user_id=team.bot_user.id,
                                       event_id=event_id or payloads.new_event_id())  # fmt: skip

    def message_event(
        self, text: str, user: User, channel: Channel, *, thread_ts: str | None = None,
        team: Team | None = None, **extra: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """A ``message`` event (recorded as a message, so it can be reacted to)."""
        team = team or self.team
        ts = self.state.next_ts()
        self.state.messages[(channel.id, ts)] = Message(channel.id, ts, text, user.id,
                                                        user.bot_id, thread_ts)  # fmt: skip
        event: dict[str, Any] = {
            "type": "message", "channel": channel.id, "user": user.id, "text": text, "ts": ts,
            "event_ts": ts, "team": team.id, "client_msg_id": secrets.token_hex(16),
            "channel_type": _channel_type(channel),
        }  # fmt: skip
        if thread_ts:
            event["thread_ts"] = thread_ts
        if user.bot_id:
            event["bot_id"] = user.bot_id
        event.update(extra)
        return event

    def message(
        self, text: str, user: User, channel: Channel, *, thread_ts: str | None = None,
        team: Team | None = None, event_id: str | None = None, **extra: Any,
    ) -> Delivery:  # fmt: skip
        event = self.message_event(text, user, channel, thread_ts=thread_ts, team=team, **extra)
        return self.push_event(event, team=team, event_id=event_id)

    def mention(
        self, text: str, user: User, channel: Channel, *, team: Team | None = None
    ) -> Delivery:
        team = team or self.team
        ts = self.state.next_ts()
        event = {"type": "app_mention", "user": user.id, "channel": channel.id, "ts": ts,
                 "event_ts": ts, "team": team.id,
                 "text": f"<@{team.bot_user.id}> {text}"}  # fmt: skip
        return self.push_event(event, team=team)

    def reaction(
        self, name: str, user: User, channel: Channel, ts: str, *, added: bool = True,
        team: Team | None = None,
    ) -> Delivery:  # fmt: skip
        team = team or self.team
        item_user = self.state.messages.get((channel.id, ts))
        event = {"type": "reaction_added" if added else "reaction_removed", "user": user.id,
                 "reaction": name, "item": {"type": "message", "channel": channel.id, "ts": ts},
                 "item_user": item_user.user if item_user else None,
                 "event_ts": self.state.next_ts()}  # fmt: skip
        return self.push_event(event, team=team)

    def edit(self, ts: str, text: str, channel: Channel, *, team: Team | None = None
             ) -> Delivery:  # fmt: skip
        """A ``message_changed`` event: the message ``ts`` now says ``text``."""
        team = team or self.team
        old = self.state.messages[(channel.id, ts)]
        before = {"type": "message", "user": old.user, "text": old.text, "ts": ts}
        old.text = text
        event = {"type": "message", "subtype": "message_changed", "channel": channel.id,
                 "channel_type": _channel_type(channel), "hidden": True,
                 "event_ts": self.state.next_ts(), "ts": self.state.next_ts(),
                 "message": {**before, "text": text, "edited": {"user": old.user, "ts": ts}},
                 "previous_message": before}  # fmt: skip
        return self.push_event(event, team=team)

    def delete(self, ts: str, channel: Channel, *, team: Team | None = None) -> Delivery:
        """A ``message_deleted`` event for the message ``ts``."""
        old = self.state.messages.pop((channel.id, ts))
        event = {"type": "message", "subtype": "message_deleted", "channel": channel.id,
                 "channel_type": _channel_type(channel), "hidden": True, "deleted_ts": ts,
                 "event_ts": self.state.next_ts(), "ts": self.state.next_ts(),
                 "previous_message": {"type": "message", "user": old.user, "text": old.text,
                                      "ts": ts}}  # fmt: skip
        return self.push_event(event, team=team)

    def membership(self, user: User, channel: Channel, *, joined: bool = True,
                   team: Team | None = None) -> Delivery:  # fmt: skip
        """``member_joined_channel`` (or ``member_left_channel``) of ``user``."""
        team = team or self.team
        kind = "member_joined_channel" if joined else "member_left_channel"
        event = {"type": kind, "user": user.id, "channel": channel.id, "team": team.id,
                 "channel_type": "G" if channel.is_private else "C",
                 "event_ts": self.state.next_ts()}  # fmt: skip
        return self.push_event(event, team=team)

    def command_payload(
        self, command: str, text: str, user: User, channel: Channel, *, team: Team | None = None
    ) -> dict[str, Any]:
        team = team or self.team
        return payloads.slash_command(
            command=command, text=text, team_id=team.id, domain=team.domain, app_id=self.app_id,
            user_id=user.id, user_name=user.name, channel_id=channel.id,
            channel_name=channel.name, response_url=self.new_response_url(team, channel.id),
            trigger_id=self.state.new_trigger(self.trigger_lifetime),
        )  # fmt: skip

    def command(
        self, command: str, text: str, user: User, channel: Channel, *, team: Team | None = None
    ) -> Delivery:
        """A slash command over Socket Mode (``accepts_response_payload`` true)."""
        return self.push("slash_commands", self.command_payload(command, text, user, channel,
                                                                team=team), True)  # fmt: skip

    def interaction(self, payload: dict[str, Any]) -> Delivery:
        """An ``interactive`` envelope (see ``payloads.py`` for the builders)."""
        accepts = payload.get("type") in _ACK_PAYLOAD_INTERACTIONS
        return self.push("interactive", payload, accepts)

    def new_trigger(self) -> str:
        return self.state.new_trigger(self.trigger_lifetime)

    def _echo(self, team: Team, message: Message) -> None:
        if not self.echo_bot_messages:
            return
        bot = team.bot_user
        channel = team.channels.get(message.channel)
        event: dict[str, Any] = {
            "type": "message", "channel": message.channel, "user": bot.id, "bot_id": bot.bot_id,
            "text": message.text, "ts": message.ts, "event_ts": message.ts, "team": team.id,
            "channel_type": _channel_type(channel) if channel else "channel",
        }  # fmt: skip
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
        asyncio.get_running_loop().call_soon(lambda: self.push_event(event, team=team))

    # -- Events API over HTTP -------------------------------------------------------------

    def http_request(
        self, payload: dict[str, Any], *, kind: str = "event", tamper: Tamper = "none",
        retry_num: int | None = None, retry_reason: str | None = None,
        secret: str | None = None, now: float | None = None,
    ) -> tuple[dict[str, str], bytes]:  # fmt: skip
        """``(headers, body)`` of a request Slack would send to the Request URL: ``kind``
        ``"event"`` (JSON), ``"command"`` (form fields) or ``"interactive"`` (form with
        one ``payload`` field)."""
        if kind == "event":
            body, content_type = json.dumps(payload).encode(), "application/json"
        elif kind == "command":
            body, content_type = form_body(payload), "application/x-www-form-urlencoded"
        elif kind == "interactive":
            body = form_body({"payload": json.dumps(payload)})
            content_type = "application/x-www-form-urlencoded"
        else:
            raise ValueError(f"kind must be event, command or interactive, not {kind!r}")
        return signed_request(secret or self.signing_secret, body, content_type=content_type,
                              tamper=tamper, retry_num=retry_num, retry_reason=retry_reason,
                              now=now)  # fmt: skip

    async def post(
        self, url: str, payload: dict[str, Any], *, kind: str = "event", tamper: Tamper = "none",
        retry_num: int | None = None, retry_reason: str | None = None, within: float = 3.0,
    ) -> tuple[int, bytes]:  # fmt: skip
        """Send one Events API request to ``url``; ``(status, body)`` of the answer.
        Slack waits 3 s for it; a slower answer raises ``TimeoutError``."""
        headers, body = self.http_request(
            payload, kind=kind, tamper=tamper, retry_num=retry_num, retry_reason=retry_reason
        )
        client_timeout = aiohttp.ClientTimeout(total=within)
        async with (
            aiohttp.ClientSession(timeout=client_timeout) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            return response.status, await response.read()


def _channel_type(channel: Channel) -> str:
    if channel.is_im:
        return "im"
    return "group" if channel.is_private else "channel"
