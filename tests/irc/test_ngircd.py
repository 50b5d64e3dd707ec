"""The interface against a real ngircd, a test coroutine playing the worker, and an
independent raw-socket client watching the wire."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from telephonist.interfaces.irc import spec
from tests.irc.conftest import Started, answered, bot_in_room, network, said
from tests.irc.peer import Peer, joined, too_early
from tests.irc.servers import Ngircd

StartIrc = Callable[..., Awaitable[Started]]
Peers = Callable[[str], Peer]


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

    event = await said(alice, host, room, "!ping")
    assert event["kind"] == "message"
    assert event["text"] == "!ping"
    assert event["user"] == "alice1"
    assert event["room"] == room
    assert event["private"] is False
    assert event["network"] == "test"
    assert event["ident"] == "~alice1"
    assert event["host"] == "127.0.0.1"
    assert event["order"] >= 0
    await answered(host, event["reply_channel"], alice, room, nick, "pong")

    alice.send(f"PRIVMSG {nick} :hello in private")
    private = await host.next_event(spec.RECEIVE)
    assert private["room"] == "alice1"
    assert private["private"] is True
    assert private["reply_channel"] != event["reply_channel"]
    await answered(host, private["reply_channel"], alice, "alice1", nick, "hi alice")


async def test_room_events_are_ordered_on_one_reply_channel(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice, host = await bot_in_room(start_irc, peers, ngircd.port, room, nick, "alice2")
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
    alice, host = await bot_in_room(start_irc, peers, ngircd.port, room, nick, "alice3")
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
    await answered(host, reply_channel, alice, room, nick, "still here")


async def test_fifty_line_reply_arrives_complete_and_paced(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    burst, rate = 5, 40.0
    alice, host = await bot_in_room(
        start_irc, peers, ngircd.port, room, nick, "alice4", flood_burst=burst, flood_rate=rate
    )
    event = await said(alice, host, room, "!fifty")
    since = time.monotonic()
    await host.layer.send(
        event["reply_channel"], {"text": "\n".join(f"line {i}" for i in range(50))}
    )
    received = await alice.privmsgs(room, 50, sender=nick)
    assert [r.line.param(1) for r in received] == [f"line {i}" for i in range(50)]
    # After the burst, one line per 1/rate: 45 lines need at least 45/rate seconds.
    assert too_early(received, since, burst, rate) == []
    assert received[-1].at - since >= (50 - burst) / rate * 0.95


async def test_long_text_is_split_at_the_relayed_limit_without_breaking_utf8(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice, host = await bot_in_room(start_irc, peers, ngircd.port, room, nick, "alice5")
    event = await said(alice, host, room, "!long")
    text = "".join(f"wörd{i}€😀 " for i in range(300))  # ~4 KB, 1-4 byte characters
    await host.layer.send(event["reply_channel"], {"text": text})
    pieces: list[str] = []
    while " ".join(pieces).split() != text.split():
        (got,) = await alice.privmsgs(room, 1, sender=nick)
        assert len(got.raw.encode()) + 2 <= 512  # as relayed to alice, prefix included
        pieces.append(got.line.param(1))
    # Every word whole (breaks fell on spaces), no character cut in two.
    assert "\ufffd" not in "".join(pieces)
    assert len(pieces) >= 8


async def test_nick_collision_uses_the_fallbacks_then_regains_the_nick(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    squatter = await peers(nick).connect(ngircd.port)
    await squatter.join(room)
    _, host = await start_irc(network(ngircd.port, nick, alt_nicks=[nick + "a"], channels=[room]))
    assert (await host.next_event(spec.CONNECT))["nick"] == nick + "a"
    # No alternatives left: the generated ones ("nick_") are next.
    await peers(nick + "a2").connect(ngircd.port)
    _, host2 = await start_irc(network(ngircd.port, nick, name="second"))
    assert (await host2.next_event(spec.CONNECT))["nick"] == nick + "_"
    # The squatter leaves; the first bot, which shares a channel with it, saw the QUIT
    # and takes its configured nick back.
    await squatter.expect(joined(nick + "a", room))
    squatter.send("QUIT :bye")
    renamed = await host.next_event(spec.NICK, lambda m: m["self"])
    assert renamed["new_nick"] == nick
    assert renamed["user"] == nick + "a"


async def test_ctcp_version_and_ping_are_answered_and_not_published(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, nick: str
) -> None:
    alice = await peers("alice6").connect(ngircd.port)
    interface, host = await start_irc(network(ngircd.port, nick))
    await host.next_event(spec.CONNECT)
    alice.send(f"PRIVMSG {nick} :\x01VERSION\x01")
    version = await alice.expect(lambda ln: ln.command == "NOTICE" and "VERSION" in ln.param(1))
    assert version.param(1).startswith("\x01VERSION Telephonist")
    alice.send(f"PRIVMSG {nick} :\x01PING 12345\x01")
    ping = await alice.expect(lambda ln: ln.command == "NOTICE" and "PING" in ln.param(1))
    assert ping.param(1) == "\x01PING 12345\x01"
    alice.send(f"PRIVMSG {nick} :after")
    event = await host.next_event(spec.RECEIVE)
    assert event["text"] == "after"  # the CTCP requests were not events
    assert host.counters["ctcp_answered"] == 2
    assert interface.status()["networks"]["test"]["state"] == "ready"
