"""The interface against a real ngircd, a test coroutine playing the worker, and an
independent raw-socket client watching the wire."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telephonist.interfaces.irc import spec
from telephonist.interfaces.irc.lines import Line
from tests.irc.conftest import Started, network
from tests.irc.peer import Peer
from tests.irc.servers import Ngircd

StartIrc = Callable[..., Awaitable[Started]]
Peers = Callable[[str], Peer]


def joined(nick: str, room: str) -> Callable[[Line], bool]:
    return lambda ln: (
        ln.command == "JOIN"
        and ln.source is not None
        and ln.source.nick == nick
        and ln.param(0) == room
    )


async def test_connect_join_and_answer_ping(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice = await peers("alice1").connect(ngircd.port)
    await alice.join(room)
    _, host = await start_irc(network(ngircd.port, nick, channels=[room]))
    connect = await host.next_event(spec.CONNECT)
    assert connect["network"] == "test"
    assert connect["nick"] == nick
    assert "multi-prefix" in connect["caps"]
    assert connect["reply_channel"]
    await alice.expect(joined(nick, room))
    own_join = await host.next_event(spec.JOIN, lambda m: m["user"] == nick)
    assert own_join["self"] is True

    alice.send(f"PRIVMSG {room} :!ping")
    event = await host.next_event(spec.RECEIVE)
    assert event["kind"] == "message"
    assert event["text"] == "!ping"
    assert event["user"] == "alice1"
    assert event["room"] == room
    assert event["private"] is False
    assert event["network"] == "test"
    assert event["ident"] == "~alice1"
    assert event["host"] == "127.0.0.1"
    assert event["order"] >= 0
    await host.layer.send(event["reply_channel"], {"text": "pong"})
    (reply,) = await alice.privmsgs(room, 1, sender=nick)
    assert reply.line.param(1) == "pong"

    alice.send(f"PRIVMSG {nick} :hello in private")
    private = await host.next_event(spec.RECEIVE)
    assert private["room"] == "alice1"
    assert private["private"] is True
    assert private["reply_channel"] != event["reply_channel"]
    await host.layer.send(private["reply_channel"], {"text": "hi alice"})
    (answer,) = await alice.privmsgs("alice1", 1, sender=nick)
    assert answer.line.param(1) == "hi alice"


async def test_room_events_are_ordered_on_one_reply_channel(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice = await peers("alice2").connect(ngircd.port)
    await alice.join(room)
    _, host = await start_irc(network(ngircd.port, nick, channels=[room]))
    await alice.expect(joined(nick, room))
    for i in range(20):
        alice.send(f"PRIVMSG {room} :m{i}")
    events = [await host.next_event(spec.RECEIVE) for _ in range(20)]
    assert [e["text"] for e in events] == [f"m{i}" for i in range(20)]
    assert len({e["reply_channel"] for e in events}) == 1
    orders = [e["order"] for e in events]
    assert orders == sorted(orders)
    assert len(set(orders)) == 20


async def test_injection_never_reaches_the_wire_as_a_command(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice = await peers("alice3").connect(ngircd.port)
    await alice.join(room)
    _, host = await start_irc(network(ngircd.port, nick, channels=[room]))
    await alice.expect(joined(nick, room))
    alice.send(f"PRIVMSG {room} :!echo")
    reply_channel = (await host.next_event(spec.RECEIVE))["reply_channel"]
    attempts = [
        {"text": "one\r\nQUIT :pwned"},
        {"text": "two\rKICK " + room + " alice3"},
        {"text": "three\nPART " + room},
        {"text": "four\0MODE " + room + " +i"},
        {"type": spec.SEND_MESSAGE, "target": f"{room}\r\nQUIT", "text": "x"},
        {"type": spec.SEND_MESSAGE, "target": f"{room},alice3", "text": "x"},
        {"type": spec.SEND_TOPIC, "topic": "t\r\nQUIT :topic"},
        {"type": spec.SEND_JOIN, "channel": "#a\nQUIT"},
        {"type": "irc-client.raw", "line": "QUIT"},
    ]
    for message in attempts:
        await host.layer.send(reply_channel, message)
    await host.layer.send(reply_channel, {"text": "sentinel"})
    received = await alice.privmsgs(room, 8, sender=nick)
    # Each line break started a new PRIVMSG; the NUL was removed.
    assert [r.line.param(1) for r in received] == [
        "one", "QUIT :pwned", "two", "KICK " + room + " alice3", "three", "PART " + room,
        "fourMODE " + room + " +i", "sentinel",
    ]  # fmt: skip
    # Between the first and the sentinel, the bot did nothing on the wire but PRIVMSGs
    # and the topic change (whose text was kept on one line).
    start = next(i for i, r in enumerate(alice.lines) if r.line.param(-1) == "one")
    end = next(i for i, r in enumerate(alice.lines) if r.line.param(-1) == "sentinel")
    from_bot = [
        r.line for r in alice.lines[start : end + 1]
        if r.line.source is not None and r.line.source.nick == nick
    ]  # fmt: skip
    assert {line.command for line in from_bot} <= {"PRIVMSG", "TOPIC"}
    topics = [line for line in from_bot if line.command == "TOPIC"]
    assert [t.param(1) for t in topics] == ["t QUIT :topic"]
    assert host.counters["rejected"] == 4
    # And the bot is still there: it answers in the channel.
    await host.layer.send(reply_channel, {"text": "still here"})
    (last,) = await alice.privmsgs(room, 1, sender=nick)
    assert last.line.param(1) == "still here"
