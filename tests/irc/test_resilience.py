"""Staying connected: server restarts, a frozen server, TLS, overload, lost workers."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.irc import IrcConfig, spec
from telephonist.interfaces.irc.transport import IrcReactor, tls_context
from tests.irc.conftest import Started, answered, bot_in_room, network, said
from tests.irc.harness import MiniHost
from tests.irc.peer import Peer, joined
from tests.irc.servers import MiniIrcd, Ngircd, make_cert
from tests.irc.stack import IrcStack
from tests.servers import require_service

StartIrc = Callable[..., Awaitable[Started]]
Peers = Callable[[str], Peer]


async def test_reconnects_after_a_server_restart_and_rejoins(
    private_ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    _, host = await start_irc(network(private_ngircd.port, nick, channels=[room]))
    connect = await host.next_event(spec.CONNECT)
    await host.next_event(spec.JOIN, lambda m: m["self"])
    # A channel joined on a consumer's request is rejoined too.
    await host.layer.send(connect["reply_channel"], {"type": spec.SEND_JOIN, "channel": room + "b"})
    await host.next_event(spec.JOIN, lambda m: m["self"] and m["room"] == room + "b")
    private_ngircd.restart()
    gone = await host.next_event(spec.DISCONNECT)
    assert gone["registered"] is True
    assert gone["network"] == "test"
    back = await host.next_event(spec.CONNECT)
    assert back["nick"] == nick
    rejoined = {(await host.next_event(spec.JOIN, lambda m: m["self"]))["room"] for _ in "ab"}
    assert rejoined == {room, room + "b"}
    alice = await peers("alice7").connect(private_ngircd.port)
    await alice.join(room)
    event = await said(alice, host, room, "are you back?")
    await answered(host, event["reply_channel"], alice, room, nick, "yes")


async def test_a_frozen_server_is_detected_by_lag_and_left(
    private_ngircd: Ngircd, start_irc: StartIrc, nick: str
) -> None:
    interface, host = await start_irc(
        network(private_ngircd.port, nick, ping_interval=0.2, ping_timeout=0.6)
    )
    await host.next_event(spec.CONNECT)
    private_ngircd.freeze()  # the TCP connection stays up; nothing answers
    try:
        gone = await host.next_event(spec.DISCONNECT)
        assert "no PONG" in gone["reason"]
    finally:
        private_ngircd.thaw()
    back = await host.next_event(spec.CONNECT)
    assert back["nick"] == nick
    lag = interface.status()["networks"]["test"]["lag"]
    assert lag is None or lag < 0.6


async def test_tls_verifies_the_server_by_default(ngircd: Ngircd) -> None:
    reactor = IrcReactor(asyncio.get_running_loop())
    config = network(ngircd.tls_port, "tlsbot", tls=True)
    conn = reactor.new_connection()
    with pytest.raises(ssl.SSLCertVerificationError):
        await conn.open(
            "127.0.0.1", ngircd.tls_port, tls_context(config), None,
            lambda line: None, lambda reason: None, 8704,
        )  # fmt: skip


async def test_tls_with_a_trusted_ca(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    cert, _ = make_cert()
    config = network(ngircd.tls_port, nick, tls=True, tls_ca_file=str(cert), channels=[room])
    interface, host = await start_irc(config)
    assert (await host.next_event(spec.CONNECT))["nick"] == nick
    assert interface.endpoints()[0].startswith("ircs://")
    alice = await peers("alice8").connect(ngircd.port)
    await alice.join(room)
    event = await said(alice, host, room, "over tls?")
    await answered(host, event["reply_channel"], alice, room, nick, "over tls")


async def test_a_full_channel_pauses_reading_and_loses_nothing(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    layer = InMemoryChannelLayer(channel_capacity={spec.RECEIVE: 2})
    alice = await peers("alice9").connect(ngircd.port)
    await alice.join(room)
    interface, host = await start_irc(
        network(ngircd.port, nick, channels=[room]), host=MiniHost(layer)
    )
    await alice.expect(joined(nick, room))
    for i in range(6):
        alice.send(f"PRIVMSG {room} :n{i}")
    # Nobody consumes until the interface has met the full channel (and stopped reading):
    # a consumer taking each message as it comes would never let the channel fill.
    deadline = time.monotonic() + 10
    while interface.status()["networks"]["test"]["reading"]:
        assert time.monotonic() < deadline, "the interface never stopped reading"
        await asyncio.sleep(0.01)  # the poll interval of a bounded wait
    await host.next_event(spec.CONNECT)
    first = await host.next_event(spec.RECEIVE)
    texts = [first["text"]]
    for _ in range(5):
        texts.append((await host.next_event(spec.RECEIVE))["text"])
    assert texts == [f"n{i}" for i in range(6)]
    assert host.counters["backpressure_pauses"] >= 1
    assert host.counters["dropped_full"] == 0


async def test_a_gone_worker_unbinds_the_conversation_which_binds_the_next_one(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice, stack = await bot_in_room(start_irc, peers, ngircd.port, room, nick, "alice10")
    first = await said(alice, stack, room, "one")
    # The worker goes away: the host unbinds its conversations (an IRC room outlives
    # any worker) instead of aborting them. The room's reply channel stays open: what
    # is sent to it meanwhile (a bridge's group send, say) still reaches the room.
    await stack.stop_worker()
    await answered(stack, first["reply_channel"], alice, room, nick, "while no worker")
    assert stack.server.counters["unbound"] >= 1  # the goodbye came first (room, network)
    await stack.start_worker()
    second = await said(alice, stack, room, "two")
    # The same conversation, bound anew: to the shared channel, in order from 0.
    assert second["reply_channel"] == first["reply_channel"]
    assert second["order"] == 0
    await answered(stack, second["reply_channel"], alice, room, nick, "bound again")
    assert stack.counters["aborted"] == 0


async def test_join_part_kick_and_topic_actions(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    other = room + "x"
    alice = await peers("alice11").connect(ngircd.port)
    await alice.join(room)
    await alice.join(other)  # alice creates #other and is its operator
    interface, host = await start_irc(network(ngircd.port, nick, channels=[room]))
    await alice.expect(joined(nick, room))
    event = await said(alice, host, room, "go")
    reply_channel = event["reply_channel"]
    await host.layer.send(reply_channel, {"type": spec.SEND_JOIN, "channel": other})
    await alice.expect(joined(nick, other))
    await host.layer.send(reply_channel, {"type": spec.SEND_ACTION, "text": "waves"})
    action = await alice.expect(lambda ln: ln.command == "PRIVMSG" and ln.param(0) == room)
    assert action.param(1) == "\x01ACTION waves\x01"
    alice.send(f"TOPIC {room} :hello topic")
    topic = await host.next_event(spec.TOPIC)
    assert topic["topic"] == "hello topic"
    assert topic["room"] == room
    alice.send(f"KICK {other} {nick} :out")
    kick = await host.next_event(spec.KICK, lambda m: m["room"] == other)
    assert kick["self"] is True
    assert kick["kicker"] == "alice11"
    assert kick["user"] == nick  # the chat contract's leave: who left
    assert kick["reason"] == "out"
    status = interface.status()["networks"]["test"]
    assert other not in status["channels"]
    await host.layer.send(reply_channel, {"type": spec.SEND_PART, "reason": "bye\r\nQUIT"})
    part = await alice.expect(lambda ln: ln.command == "PART")
    assert part.param(1) == "bye QUIT"
    assert interface.clients["test"].wanted == {}


async def test_a_server_without_cap_support(
    tmp_path: Path, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    binary = MiniIrcd.find()
    if binary is None:
        require_service("miniircd (dev extra)")
    server = MiniIrcd(tmp_path / "miniircd", binary=binary or "").start()
    try:
        _, stack = await start_irc(network(server.port, nick, channels=[room]))
        connect = await stack.next_event(spec.CONNECT)
        assert connect["caps"] == []  # "421 CAP": registered without negotiation
        alice = await peers("alice12").connect(server.port)
        await alice.join(room)
        event = await said(alice, stack, room, "plain old irc")
        await answered(stack, event["reply_channel"], alice, room, nick, "works")
    finally:
        server.stop()


async def test_stop_sends_what_is_queued_then_quits(
    ngircd: Ngircd, peers: Peers, room: str, nick: str
) -> None:
    config = IrcConfig(
        networks=[network(ngircd.port, nick, channels=[room], flood_burst=1, flood_rate=20.0)]
    )
    stack = await IrcStack.start(config)
    alice = await peers("alice13").connect(ngircd.port)
    await alice.join(room)
    await alice.expect(joined(nick, room))
    event = await said(alice, stack, room, "bye soon")
    await stack.layer.send(event["reply_channel"], {"text": "\n".join(map(str, range(10)))})
    await alice.privmsgs(room, 1, sender=nick)  # the first is out, nine are queued
    await stack.stop()  # drains the outbox (bounded), then QUIT
    rest = await alice.privmsgs(room, 9, sender=nick)
    assert [r.line.param(1) for r in rest] == [str(i) for i in range(1, 10)]
    quit_ = await alice.expect(lambda ln: ln.command == "QUIT")
    assert quit_.source is not None
    assert quit_.source.nick == nick
