"""ChatBridge with real peers: two browsers' WebSockets, an IRC channel on ngircd, a
mailbox (SMTP in, mail out through a real relay) and a linechat user, in one room.

Everyone sees every line exactly once, attributed, and nothing comes back where it came
from: each person's view is read up to a sentinel line and compared whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from telephonist.consumers import ChatBridge
from telephonist.interfaces.irc import NetworkConfig
from telephonist.routing import route_class
from tests.chat.clients import IrcClient, LineClient, MailClient, WebClient
from tests.chat.stack import DOMAIN, IRC_FAST, ChatStack, chat_stack
from tests.irc.servers import Ngircd

BOT = "bridgebot"
CHANNEL = "#bridge"
MAILBOX = f"room-lobby@{DOMAIN}"


class Bridge(ChatBridge):
    links = {
        "lobby": [
            {"protocol": "irc", "room": CHANNEL, "network": "local"},
            {"protocol": "email", "room": MAILBOX, "notify": ["team@example.org"]},
            "linechat:lobby",
        ]
    }
    open_rooms = False


ROUTING = [route_class(Bridge, path=r"^/chat/(?P<room>[-\w]+)/$"), route_class(Bridge)]


@pytest_asyncio.fixture(loop_scope="session")
async def stack(chat_ngircd: Ngircd) -> AsyncIterator[ChatStack]:
    Bridge._setup.pop(Bridge, None)
    network = NetworkConfig.model_validate(
        {**IRC_FAST, "name": "local", "host": "127.0.0.1", "port": chat_ngircd.port,
         "nick": BOT, "channels": [CHANNEL]}
    )  # fmt: skip
    async with chat_stack(ROUTING, irc=[network]) as running:
        yield running


async def events_until(web: WebClient, sentinel: str) -> list[dict[str, Any]]:
    """Every event frame up to and including the one whose text is ``sentinel``."""
    found: list[dict[str, Any]] = []
    while not found or found[-1]["text"] != sentinel:
        found.append(await web.next_frame(lambda f: f["type"] == "event"))
    return found


def channel_line(irc: IrcClient) -> Any:
    """A reader of the bot's next line in the channel (private ones are not read)."""

    async def read() -> str:
        line = await irc.peer.expect(
            lambda ln: (
                ln.command == "PRIVMSG"
                and ln.param(0) == CHANNEL
                and ln.source is not None
                and ln.source.nick == BOT
            ),
            15,
        )
        return line.param(1)

    return read


async def lines_until(read: Any, sentinel: str) -> list[str]:
    found: list[str] = []
    while not found or not found[-1].endswith(sentinel):
        found.append(await read())
    return found


async def test_one_room_over_web_irc_mail_and_linechat(
    stack: ChatStack, chat_ngircd: Ngircd
) -> None:
    carol = await IrcClient.open(chat_ngircd.port, "carol", CHANNEL, BOT)
    ann = await WebClient.open(stack, "lobby", "ann")
    bob = await WebClient.open(stack, "lobby", "bob")
    dave = await LineClient.open(stack, "dave", "lobby")
    erin = MailClient(stack, "erin@example.org", "Erin")
    team = MailClient(stack, "team@example.org", "team")
    try:
        welcome = await ann.next_frame(lambda f: f["type"] == "state" and "history" in f)
        assert welcome["room"] == "lobby"
        # The members, each with their protocol.
        state = await bob.next_frame(
            lambda f: f["type"] == "state" and "carol" in {m["user"] for m in f["members"]}
        )
        members = {(m["user"], m["protocol"]) for m in state["members"]}
        assert members >= {("ann", "websocket"), ("bob", "websocket"), ("carol", "irc")}
        assert BOT not in {m["user"] for m in state["members"]}

        # One thing at a time, each seen by bob before the next: then every view can
        # be compared whole, in order.
        async def posted(text: str) -> dict[str, Any]:
            (event,) = await events_until(bob, text)  # exactly once, nothing before it
            return event

        await ann.send(text="hello\nall")
        seen_by_bob = [await posted("hello\nall")]
        carol.say("hi from irc")
        seen_by_bob.append(await posted("hi from irc"))
        carol.say("\x01ACTION waves\x01")
        seen_by_bob.append(await posted("waves"))
        dave.say("hello from a terminal")  # dave's first line names his member entry
        renamed = await bob.next_frame(lambda f: f["type"] == "state")
        assert ("dave", "linechat") in {(m["user"], m["protocol"]) for m in renamed["members"]}
        seen_by_bob.append(await posted("hello from a terminal"))
        await erin.say("a mail to the room", mailbox="room-lobby")
        seen_by_bob.append(await posted("a mail to the room"))
        carol.say("psst", target=BOT)  # private: answered, never relayed
        answer = await carol.peer.expect(lambda ln: ln.param(0) == "carol", 15)
        assert "private messages are not relayed" in answer.param(1)
        await ann.send(text="sentinel")
        seen_by_bob.append(await posted("sentinel"))

        assert [(e["user"], e["protocol"], e["kind"], e["text"]) for e in seen_by_bob] == [
            ("ann", "websocket", "message", "hello\nall"),
            ("carol", "irc", "message", "hi from irc"),
            ("carol", "irc", "action", "waves"),
            ("dave", "linechat", "message", "hello from a terminal"),
            ("Erin", "email", "message", "a mail to the room"),
            ("ann", "websocket", "message", "sentinel"),
        ]
        seen_by_ann = await events_until(ann, "sentinel")
        assert [e["text"] for e in seen_by_ann] == [e["text"] for e in seen_by_bob]
        assert [e["is_self"] for e in seen_by_ann] == [True, False, False, False, False, True]

        await lines_until(channel_line(carol), "sentinel")
        on_irc = [
            r.line.param(1)
            for r in carol.peer.lines
            if r.line.command == "PRIVMSG" and r.line.param(0) == CHANNEL
        ]
        assert on_irc == [
            "[web] <ann> hello",
            "[web] <ann> all",
            "[linechat] <dave> hello from a terminal",
            "[mail] <Erin> a mail to the room",
            "[web] <ann> sentinel",
        ]
        on_line = await lines_until(dave.next_line, "sentinel")
        assert on_line == [
            "[web] <ann> hello",
            "[web] <ann> all",
            "[irc] <carol> hi from irc",
            "[irc] * carol waves",
            "[linechat] <dave> hello from a terminal",
            "[mail] <Erin> a mail to the room",
            "[web] <ann> sentinel",
        ]

        # The relay sends on two connections at once: mails arrive in any order.
        mailed = [await team.next_mail() for _ in range(5)]
        assert sorted(m["Subject"] for m in mailed) == [
            "lobby: ann (web)",
            "lobby: ann (web)",
            "lobby: carol (irc)",
            "lobby: carol (irc)",
            "lobby: dave (linechat)",
        ]  # fmt: skip  (Erin's own mail is not mailed back to the mailbox's list)
        bodies = {m.get_body(("plain",)).get_content().strip() for m in mailed}  # type: ignore[union-attr]
        assert "[web] <ann> hello\n[web] <ann> all" in {b.replace("\r", "") for b in bodies}

        # A reaction on the web to carol's line reads as a sentence on IRC (ngircd has
        # no message-tags) and as a reaction on every page.
        first_irc = seen_by_bob[1]["message_id"]
        await bob.send(kind="reaction", emoji="👍", reply_to=first_irc)
        reaction = await ann.next_frame(lambda f: f["type"] == "event")
        assert (reaction["kind"], reaction["reply_to"], reaction["emoji"]) == (
            "reaction", first_irc, "👍",
        )  # fmt: skip
        said = await channel_line(carol)()
        assert said == "[web] * bob reacted 👍 to carol: “hi from irc”"

        # A page that joins (or joins again) gets the room's history once, in one frame.
        fay = await WebClient.open(stack, "lobby", "fay")
        history = (await fay.next_frame(lambda f: f["type"] == "state"))["history"]
        assert [h["text"] for h in history] == [e["text"] for e in seen_by_bob]
        assert history[1]["reactions"] == {"👍": ["bob"]}
        await fay.close()
        again = await WebClient.open(stack, "lobby", "fay")
        assert (await again.next_frame(lambda f: f["type"] == "state"))["history"] == history
        await again.close()
    finally:
        for client in (carol, ann, bob, dave):
            await client.close()
