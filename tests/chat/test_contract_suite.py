"""The chat contract, protocol by protocol: one consumer, every protocol, every kind.

One stack runs every chat interface (WebSocket in JSON and in plain frames, IRC on
ngircd and on InspIRCd with message-tags, email through SMTP with a real relay, the
linechat plugin, Slack against its stand-in) and one routed consumer, ``Probe``, that
records every event and answers commands (``!reaction`` asks for a reaction reply,
``!edit fb`` for an edit with
a fallback...). Each test is a person on one protocol, with a real client:

Slack's person is driven through the stand-in (``telephonist.testing.slack``) as Slack
would: events in over Socket Mode, answers seen as the Web API calls the interface made.

* every inbound kind the protocol has reaches the consumer as a valid contract event;
* every reply kind is carried out natively, or falls back to its text, or is declined
  (counted) with nothing sent: the next thing the person sees is the next reply;
* a relayed message is attributed on every line, private replies are private, and
  text is plain and safe whichever protocol it came from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import pytest
import pytest_asyncio

from telephonist.chat import REPLY_KINDS, ChatEvent, validate_event
from telephonist.consumers import AsyncChatConsumer
from telephonist.interfaces.irc import NetworkConfig
from telephonist.routing import route_class
from telephonist.testing.slack import ApiCall, SlackStandIn, settings_for
from tests.chat.clients import IrcClient, LineClient, MailClient, UdpClient, WebClient
from tests.chat.stack import IRC_FAST, ChatStack, chat_stack
from tests.irc.servers import InspIRCd, Ngircd

BOT = "probebot"
CHANNEL = "#suite"
ANSWERS: dict[str, dict[str, Any]] = {
    "message": {"text": "pong\nline two"},
    "action": {"text": "waves", "kind": "action"},
    "notice": {"text": "note", "kind": "notice"},
    "reaction": {"kind": "reaction", "emoji": "👍"},
    "edit": {"kind": "edit", "text": "changed"},
    "delete": {"kind": "delete"},
    "private": {"text": "psst", "private": True},
    "relay": {"text": "one\ntwo", "user": "ann", "protocol": "websocket"},
    "thread": {"text": "threaded"},
}


class Probe(AsyncChatConsumer):
    """The suite's one consumer: records each event; ``!<what> [fb]`` gets an answer."""

    events: ClassVar[asyncio.Queue[tuple[dict[str, Any], ChatEvent]]]

    async def on_event(self, event: ChatEvent) -> None:
        await Probe.events.put((dict(self.message.content), event))
        words = event["text"].split()
        if event["kind"] == "message" and words and words[0][1:] in ANSWERS:
            what = words[0][1:]
            answer = dict(ANSWERS[what])
            target = event["message_id"] or "unknown"
            if what in ("reaction", "thread"):
                answer["reply_to"] = target
            elif what in ("edit", "delete"):
                answer["message_id"] = target
            if "fb" in words[1:]:
                answer["fallback"] = f"fell back {what}"
            await self.reply(answer)


ROUTING = [route_class(Probe, path=r"^/chat/(?P<room>[-\w]+)/$"), route_class(Probe)]


@dataclass
class Servers:
    stack: ChatStack
    ngircd: Ngircd
    inspircd: InspIRCd
    slack: SlackStandIn


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def servers(chat_ngircd: Ngircd, chat_inspircd: InspIRCd) -> AsyncIterator[Servers]:
    Probe.events = asyncio.Queue()
    networks = [
        NetworkConfig.model_validate({**IRC_FAST, "name": name, "host": "127.0.0.1",
                                      "port": server.port, "nick": BOT, "channels": [CHANNEL]})
        for name, server in (("ngircd", chat_ngircd), ("inspircd", chat_inspircd))
    ]  # fmt: skip
    async with SlackStandIn() as slack:
        config = settings_for(slack, lookup_timeout=2.5)
        async with chat_stack(ROUTING, irc=networks, slack=config, udpchat=True) as stack:
            await slack.wait_connected()
            yield Servers(stack, chat_ngircd, chat_inspircd, slack)


async def seen(match: Any, within: float = 15) -> tuple[dict[str, Any], ChatEvent]:
    """The next event the consumer got that ``match(content, event)`` accepts."""
    skipped: list[ChatEvent] = []
    try:
        async with asyncio.timeout(within):
            while True:
                content, event = await Probe.events.get()
                if match(content, event):
                    return content, event
                skipped.append(event)
    except TimeoutError:
        raise AssertionError(f"no such event; the consumer got: {skipped}") from None


# -- people, one kind per protocol -------------------------------------------------------


class Person:
    """What every protocol's person can do in the suite."""

    protocol: ClassVar[str]
    interface: ClassVar[str]
    inbound: ClassVar[tuple[str, ...]]
    native: ClassVar[frozenset[str]] = frozenset({"message", "action", "notice"})
    nick: str

    async def say(self, text: str) -> None: ...
    async def produce(self, kind: str) -> None:
        """Do what makes an event of ``kind`` (a message is ``say("hello")``)."""

    async def expect(self, kind: str) -> None:
        """Assert the next thing shown is the native rendering of the ``kind`` answer."""

    async def next_line(self) -> str: ...
    async def expect_relay(self) -> None: ...
    async def expect_private(self) -> None: ...
    async def expect_thread(self, parent: str | None) -> None:
        """The ``!thread`` answer: a reply to ``parent`` where the protocol can say so."""
        assert await self.next_line() == "threaded"

    async def close(self) -> None: ...

    def mine(self, content: dict[str, Any], event: ChatEvent) -> bool:
        return event["protocol"] == self.protocol and event["user"] == self.nick


class WebJson(Person):
    protocol, interface = "websocket", "http"
    inbound = ("join", "message", "action", "edit", "delete", "reaction", "leave")
    native = frozenset(REPLY_KINDS)

    def __init__(self, client: WebClient, nick: str) -> None:
        self.client, self.nick = client, nick

    @classmethod
    async def open(cls, servers: Servers, nick: str) -> WebJson:
        return cls(await WebClient.open(servers.stack, nick, nick, json_mode=True), nick)

    def mine(self, content: dict[str, Any], event: ChatEvent) -> bool:
        return event["protocol"] == "websocket" and event["room"] == self.nick

    async def say(self, text: str) -> None:
        await self.client.send(text=text)

    async def produce(self, kind: str) -> None:
        frames = {
            "message": {"text": "hello \x00\x01\u202eworld"},
            "action": {"kind": "action", "text": "waves"},
            "edit": {"kind": "edit", "message_id": "m1", "text": "new"},
            "delete": {"kind": "delete", "message_id": "m1"},
            "reaction": {"kind": "reaction", "emoji": "👍", "reply_to": "m1"},
        }
        if kind == "leave":
            await self.client.close()
        elif kind != "join":
            await self.client.send(**frames[kind])

    async def expect(self, kind: str) -> None:
        frame = await self.client.next_frame(lambda f: f["type"] == "event")
        assert frame["kind"] == kind, frame
        expected = {"message": "pong\nline two", "action": "waves", "notice": "note"}
        if kind in expected:
            assert frame["text"] == expected[kind]
        if kind == "reaction":
            assert frame["emoji"] == "👍"
            assert frame["reply_to"]
        if kind in ("edit", "delete"):
            assert frame["message_id"]

    async def next_line(self) -> str:
        return await self.client.next_line()

    async def expect_relay(self) -> None:
        frame = await self.client.next_frame(lambda f: f["type"] == "event")
        assert (frame["user"], frame["protocol"], frame["text"]) == ("ann", "websocket", "one\ntwo")

    async def expect_private(self) -> None:
        assert await self.client.next_line() == "psst"

    async def expect_thread(self, parent: str | None) -> None:
        frame = await self.client.next_frame(lambda f: f["type"] == "event")
        assert (frame["text"], frame["reply_to"]) == ("threaded", parent)

    async def close(self) -> None:
        await self.client.close()


class WebPlain(WebJson):
    inbound = ("join", "message", "leave")
    native = frozenset({"message", "action", "notice"})

    @classmethod
    async def open(cls, servers: Servers, nick: str) -> WebPlain:
        return cls(await WebClient.open(servers.stack, nick, nick, json_mode=False), nick)

    async def say(self, text: str) -> None:
        await self.client.say(text)

    async def produce(self, kind: str) -> None:
        if kind == "message":
            await self.client.say("hello \x00\x01\u202eworld")
        elif kind == "leave":
            await self.client.close()

    async def expect(self, kind: str) -> None:
        expected = {"message": "pong\nline two", "action": "* waves", "notice": "note"}
        assert await self.client.next_line() == expected[kind]

    async def expect_relay(self) -> None:
        assert await self.client.next_line() == "[web] <ann> one\n[web] <ann> two"

    async def expect_thread(self, parent: str | None) -> None:
        assert await self.client.next_line() == "threaded"


class _LineClient(Protocol):
    def say(self, text: str) -> None: ...
    async def next_line(self) -> str: ...
    async def close(self) -> None: ...


class _Lines(Person):
    """A person whose client reads what they are sent as text lines (IRC, and the test
    plugins' line protocols): a relayed message comes as one attributed line per line."""

    client: _LineClient

    def __init__(self, client: _LineClient, nick: str) -> None:
        self.client, self.nick = client, nick

    async def say(self, text: str) -> None:
        self.client.say(text)

    async def next_line(self) -> str:
        return await self.client.next_line()

    async def expect_relay(self) -> None:
        lines = [await self.client.next_line() for _ in range(2)]
        assert lines == ["[web] <ann> one", "[web] <ann> two"]

    async def close(self) -> None:
        await self.client.close()


class Irc(_Lines):
    protocol, interface = "irc", "irc"
    inbound = ("join", "message", "action", "notice", "topic", "leave")
    network: ClassVar[str] = "ngircd"
    client: IrcClient

    @classmethod
    async def open(cls, servers: Servers, nick: str) -> Irc:
        server = servers.ngircd if cls.network == "ngircd" else servers.inspircd
        tags = cls.network == "inspircd"
        return cls(await IrcClient.open(server.port, nick, CHANNEL, BOT, tags=tags), nick)

    def mine(self, content: dict[str, Any], event: ChatEvent) -> bool:
        return super().mine(content, event) and content.get("network") == self.network

    async def produce(self, kind: str) -> None:
        peer = self.client.peer
        if kind == "message":
            self.client.say("hello \x01\x02bold\x02 \x0304red\x03 \u202eworld")
        elif kind == "action":
            self.client.say("\x01ACTION waves\x01")
        elif kind == "notice":
            peer.send(f"NOTICE {CHANNEL} :note")
        elif kind == "topic":
            peer.send(f"TOPIC {CHANNEL} :topic of {self.nick}")
        elif kind == "reaction":
            peer.send(f"@+draft/react=👍;+draft/reply=m1 TAGMSG {CHANNEL}")
        elif kind == "leave":
            peer.send(f"PART {CHANNEL} :bye")

    async def expect(self, kind: str) -> None:
        if kind == "message":
            assert [await self.client.next_line() for _ in range(2)] == ["pong", "line two"]
        elif kind == "action":
            assert await self.client.next_line() == "\x01ACTION waves\x01"
        elif kind == "notice":
            line = await self.client.from_bot(("NOTICE",))
            assert line.param(1) == "note"
        elif kind == "reaction":
            line = await self.client.from_bot(("TAGMSG",))
            assert line.tags.get("+draft/react") == "👍"
            assert line.tags.get("+draft/reply")

    async def expect_private(self) -> None:
        line = await self.client.from_bot()
        assert (line.param(0), line.param(1)) == (self.nick, "psst")


class IrcTags(Irc):
    network = "inspircd"

    async def expect_thread(self, parent: str | None) -> None:
        line = await self.client.from_bot()
        assert (line.param(1), line.tags.get("+draft/reply")) == ("threaded", parent)

    # InspIRCd locks a channel's topic to its operators (+t), and the bot made #suite.
    inbound = (*(k for k in Irc.inbound if k != "topic"), "reaction")
    native = frozenset({"message", "action", "notice", "reaction"})


class Mail(Person):
    protocol, interface = "email", "email"
    inbound = ("message",)

    def __init__(self, client: MailClient, nick: str) -> None:
        self.client, self.nick = client, nick

    @classmethod
    async def open(cls, servers: Servers, nick: str) -> Mail:
        return cls(MailClient(servers.stack, f"{nick}@example.org", nick), nick)

    async def say(self, text: str) -> None:
        await self.client.say(text, mailbox=self.nick)

    async def produce(self, kind: str) -> None:
        threading = {"In_Reply_To": "<parent@x>", "References": "<root@x> <parent@x>"}
        await self.client.say("hello \x01\u202eworld", mailbox=self.nick, **threading)

    async def expect(self, kind: str) -> None:
        expected = {"message": "pong\nline two", "action": "* waves", "notice": "note"}
        assert await self.client.next_line() == expected[kind]

    async def next_line(self) -> str:
        return await self.client.next_line()

    async def expect_relay(self) -> None:
        mail = await self.client.next_mail()
        assert mail["From"].addresses[0].display_name == "ann (web)"
        assert mail.get_body(("plain",)).get_content().splitlines() == ["one", "two"]  # type: ignore[union-attr]

    async def expect_private(self) -> None:
        mail = await self.client.next_mail()
        assert mail["To"].addresses[0].addr_spec == f"{self.nick}@example.org"

    async def expect_thread(self, parent: str | None) -> None:
        mail = await self.client.next_mail()
        assert mail["In-Reply-To"] == parent


class _Plugin(_Lines):
    """A person on one of the test plugins' line protocols (``tests/plugins``): plain
    text in and out."""

    async def expect(self, kind: str) -> None:
        if kind == "message":
            assert [await self.client.next_line() for _ in range(2)] == ["pong", "line two"]
        else:
            assert await self.client.next_line() == {"action": "* waves", "notice": "note"}[kind]

    async def expect_private(self) -> None:
        assert await self.client.next_line() == "psst"


class Line(_Plugin):
    protocol, interface = "linechat", "linechat"
    inbound = ("join", "message", "action", "leave")

    @classmethod
    async def open(cls, servers: Servers, nick: str) -> Line:
        return cls(await LineClient.open(servers.stack, nick, nick), nick)

    def mine(self, content: dict[str, Any], event: ChatEvent) -> bool:
        return event["protocol"] == "linechat" and event["room"] in (self.nick, "lobby")

    async def produce(self, kind: str) -> None:
        if kind == "message":
            self.client.say("hello \x01\u202eworld")
        elif kind == "action":
            self.client.say("/me waves")
        elif kind == "leave":
            await self.client.close()


class SlackPerson(Person):
    """A Slack user in a channel of their own: events pushed over Socket Mode as Slack
    sends them, answers read from the Web API calls the interface made."""

    protocol, interface = "slack", "slack"
    inbound = ("join", "message", "action", "edit", "delete", "reaction", "topic", "leave")
    native = frozenset(REPLY_KINDS)
    _SAID = ("chat.postMessage", "chat.meMessage", "chat.postEphemeral")

    def __init__(self, slack: SlackStandIn, nick: str) -> None:
        self.slack, self.nick = slack, nick
        self.user = slack.add_user(nick)
        self.channel = slack.add_channel(nick)
        self.seen = 0  # calls about this channel already looked at
        self.last_ts = ""

    @classmethod
    async def open(cls, servers: Servers, nick: str) -> SlackPerson:
        person = cls(servers.slack, nick)
        await person.slack.membership(person.user, person.channel).acked()
        return person

    async def say(self, text: str, **extra: Any) -> None:
        delivery = self.slack.message(text, self.user, self.channel, **extra)
        self.last_ts = delivery.payload["event"]["ts"]
        await delivery.acked()

    async def produce(self, kind: str) -> None:
        if kind == "message":
            await self.say("hello \x00\x01\u202eworld")
        elif kind == "action":
            await self.say("waves", subtype="me_message")
        elif kind == "topic":
            await self.say(f"set the channel topic: topic of {self.nick}",
                           subtype="channel_topic", topic=f"topic of {self.nick}")  # fmt: skip
        elif kind in ("edit", "delete"):
            await self.say("first")
            action = (self.slack.edit(self.last_ts, "new", self.channel) if kind == "edit"
                      else self.slack.delete(self.last_ts, self.channel))  # fmt: skip
            await action.acked()
        elif kind == "reaction":
            await self.slack.reaction("thumbsup", self.user, self.channel, "m1").acked()
        elif kind == "leave":
            await self.slack.membership(self.user, self.channel, joined=False).acked()

    async def next_call(self, methods: tuple[str, ...] = _SAID) -> ApiCall:
        """The next Web API call of ``methods`` about this person's channel."""

        def found() -> ApiCall | None:
            mine = [c for c in self.slack.calls if c.params.get("channel") == self.channel.id]
            for i, call in enumerate(mine[self.seen :], start=self.seen):
                if call.method in methods:
                    self.seen = i + 1
                    return call
            return None

        call: ApiCall = await self.slack.wait_until(found, 15)
        return call

    async def expect(self, kind: str) -> None:
        methods = {"message": "chat.postMessage", "notice": "chat.postMessage",
                   "action": "chat.meMessage", "edit": "chat.update", "delete": "chat.delete",
                   "reaction": "reactions.add"}  # fmt: skip
        call = await self.next_call((methods[kind],))
        texts = {"message": "pong\nline two", "notice": "note", "action": "waves",
                 "edit": "changed"}  # fmt: skip
        if kind in texts:
            assert call.params["text"] == texts[kind]
        if kind in ("edit", "delete"):
            assert call.params["ts"] == self.last_ts
        if kind == "reaction":
            assert (call.params["name"], call.params["timestamp"]) == ("+1", self.last_ts)

    async def next_line(self) -> str:
        return str((await self.next_call()).params["text"])

    async def expect_relay(self) -> None:
        # Escaped on the wire (Slack shows "[web] <ann> one"), attributed on every line.
        assert await self.next_line() == "[web] &lt;ann&gt; one\n[web] &lt;ann&gt; two"

    async def expect_private(self) -> None:
        call = await self.next_call()
        assert (call.method, call.params["user"], call.params["text"]) == (
            "chat.postEphemeral", self.user.id, "psst")  # fmt: skip

    async def expect_thread(self, parent: str | None) -> None:
        call = await self.next_call()
        assert (call.params["text"], call.params.get("thread_ts")) == ("threaded", parent)


class Udp(_Plugin):
    """A connectionless protocol: the conversation is the peer's address (docs/writing-an-
    interface.md, section 6); everyone talks in the configured room."""

    protocol, interface = "udpchat", "udpchat"
    inbound = ("message", "action")

    @classmethod
    async def open(cls, servers: Servers, nick: str) -> Udp:
        return cls(await UdpClient.open(servers.stack, nick), nick)

    async def produce(self, kind: str) -> None:
        self.client.say("hello \x01\u202eworld" if kind == "message" else "/me waves")


PEOPLE: dict[str, type[Any]] = {
    "websocket-json": WebJson,
    "websocket-plain": WebPlain,
    "irc-ngircd": Irc,
    "irc-inspircd": IrcTags,
    "email": Mail,
    "linechat": Line,
    "slack": SlackPerson,
    "udpchat": Udp,
}
INBOUND = [(name, kind) for name, cls in PEOPLE.items() for kind in cls.inbound]
REPLIES = [(name, kind) for name in PEOPLE for kind in REPLY_KINDS]


def nick_for(request: pytest.FixtureRequest) -> str:
    import hashlib

    return "p" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]


@contextlib.asynccontextmanager
async def present(
    servers: Servers, who: str, request: pytest.FixtureRequest, *, wait_join: bool = True
) -> AsyncIterator[Any]:
    """``PEOPLE[who]`` connected under the test's own nick; with ``wait_join``, once the
    consumer has seen them join (on protocols that have joins); closed on the way out."""
    cls = PEOPLE[who]
    person = await cls.open(servers, nick_for(request))
    try:
        if wait_join and "join" in cls.inbound:
            await seen(lambda c, e: person.mine(c, e) and e["kind"] == "join")
        yield person
    finally:
        await person.close()


# -- the suite ---------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "kind"), INBOUND)
async def test_every_inbound_kind_reaches_the_consumer(
    servers: Servers, who: str, kind: str, request: pytest.FixtureRequest
) -> None:
    async with present(servers, who, request, wait_join=kind != "join") as person:
        await person.produce(kind)
        content, event = await seen(lambda c, e: person.mine(c, e) and e["kind"] == kind)
        assert validate_event(event)
        if not content["type"].startswith("websocket."):
            assert validate_event(content), "the interface built the event by the contract"
        if kind == "message":
            assert "\x00" not in event["text"]
            assert "\x01" not in event["text"]
            assert "\u202e" not in event["text"]
            assert event["text"].replace("bold ", "").replace("red ", "") == "hello world"
            assert event["message_id"] or who in ("websocket-plain", "irc-ngircd")
        if who == "email":
            assert (event["reply_to"], event["thread_id"]) == ("<parent@x>", "<root@x>")
        if kind == "reaction":
            assert (event["emoji"], event["reply_to"]) == ("👍", "m1")


@pytest.mark.parametrize(("who", "kind"), REPLIES)
async def test_every_reply_kind_is_done_or_falls_back_or_is_declined(
    servers: Servers, who: str, kind: str, request: pytest.FixtureRequest
) -> None:
    cls = PEOPLE[who]
    stack = servers.stack
    async with present(servers, who, request) as person:
        if kind in cls.native:
            await person.say(f"!{kind}")
            await person.expect(kind)
            return
        before = stack.counters(cls.interface)
        await person.say(f"!{kind}")
        await stack.counted(cls.interface, f"chat_declined_{kind}",
                            before[f"chat_declined_{kind}"] + 1)  # fmt: skip
        await person.say(f"!{kind} fb")
        # Nothing was sent for the declined reply: the fallback is the next thing shown.
        assert await person.next_line() == f"fell back {kind}"
        assert (
            stack.counters(cls.interface)[f"chat_fallback_{kind}"] > before[f"chat_fallback_{kind}"]
        )


@pytest.mark.parametrize("who", list(PEOPLE))
async def test_relayed_lines_are_attributed_and_private_replies_private(
    servers: Servers, who: str, request: pytest.FixtureRequest
) -> None:
    async with present(servers, who, request) as person:
        await person.say("!relay")
        await person.expect_relay()
        await person.say("!private")
        await person.expect_private()


@pytest.mark.parametrize("who", list(PEOPLE))
async def test_answers_thread_where_the_protocol_can(
    servers: Servers, who: str, request: pytest.FixtureRequest
) -> None:
    async with present(servers, who, request) as person:
        await person.say("!thread")
        _, event = await seen(lambda c, e: person.mine(c, e) and e["text"] == "!thread")
        await person.expect_thread(event["message_id"])
