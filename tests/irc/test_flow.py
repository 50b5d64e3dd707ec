"""Flow control against a real ngircd: flood control switched off, and backpressure that
stops reading when the layer is full and reads again as soon as it takes events, with a
log line naming the channel that is actually full."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest

from telephonist.config import TelephonistConfig
from telephonist.consumers import AsyncMessage
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.irc import IrcConfig, IrcInterface, spec
from telephonist.routing import route
from telephonist.runtime.plan import build_layer
from tests.irc.conftest import Started, network
from tests.irc.harness import MiniHost
from tests.irc.peer import Peer, joined
from tests.irc.servers import Ngircd
from tests.irc.stack import IrcStack

StartIrc = Callable[..., Awaitable[Started]]
Peers = Callable[[str], Peer]
LOGGER = "telephonist.interfaces.irc"


async def logged(
    caplog: pytest.LogCaptureFixture, text: str, within: float = 10
) -> logging.LogRecord:
    """The first record of the IRC interface containing ``text`` (polled, bounded)."""
    deadline = time.monotonic() + within
    while True:
        for record in caplog.records:
            if record.name == LOGGER and text in record.getMessage():
                return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"no log line with {text!r} within {within}s")
        await asyncio.sleep(0.01)  # the poll interval of a bounded wait


async def until(condition: Callable[[], bool], what: str, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {what} within {within}s")
        await asyncio.sleep(0.01)  # the poll interval of a bounded wait


def reading(interface: IrcInterface) -> bool:
    value = interface.status()["networks"]["test"]["reading"]
    assert isinstance(value, bool)
    return value


async def test_flood_control_off_sends_a_long_reply_at_once(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice = await peers("alice20").connect(ngircd.port)
    await alice.join(room)
    # With these limits a paced bot would send one line now and the next in 100 s.
    interface, host = await start_irc(
        network(
            ngircd.port, nick, channels=[room], flood_control=False, flood_burst=1, flood_rate=0.01
        )
    )
    await alice.expect(joined(nick, room))
    alice.send(f"PRIVMSG {room} :!many")
    event = await host.next_event(spec.RECEIVE)
    await host.layer.send(event["reply_channel"], {"text": "\n".join(f"l{i}" for i in range(50))})
    received = await alice.privmsgs(room, 50, sender=nick)
    assert [r.line.param(1) for r in received] == [f"l{i}" for i in range(50)]
    assert interface.status()["networks"]["test"]["queued"] == 0


async def test_flood_control_on_holds_lines_back(
    ngircd: Ngircd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    """The counterpart of the test above: the same limits, flood control on (the default)."""
    alice = await peers("alice21").connect(ngircd.port)
    await alice.join(room)
    interface, host = await start_irc(
        network(ngircd.port, nick, channels=[room], flood_burst=1, flood_rate=0.01)
    )
    await alice.expect(joined(nick, room))  # the JOIN took the only token
    alice.send(f"PRIVMSG {room} :!many")
    event = await host.next_event(spec.RECEIVE)
    await host.layer.send(event["reply_channel"], {"text": "\n".join(f"l{i}" for i in range(50))})
    await until(lambda: interface.status()["networks"]["test"]["queued"] == 50, "50 lines queued")


async def test_a_full_channel_stops_reading_and_reads_again_as_soon_as_it_has_room(
    ngircd: Ngircd,
    start_irc: StartIrc,
    peers: Peers,
    room: str,
    nick: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    layer = InMemoryChannelLayer(channel_capacity={spec.RECEIVE: 1})
    alice = await peers("alice22").connect(ngircd.port)
    await alice.join(room)
    interface, host = await start_irc(
        network(ngircd.port, nick, channels=[room], full_retry_max=0.05), host=MiniHost(layer)
    )
    await alice.expect(joined(nick, room))
    await host.next_event(spec.JOIN)  # the test consumes nothing else until the stall
    for i in range(5):
        alice.send(f"PRIVMSG {room} :n{i}")
    warning = await logged(caplog, "stopped reading")
    assert warning.levelno == logging.WARNING
    assert "channel 'irc-client.receive' is at capacity" in warning.getMessage()
    assert not reading(interface)
    texts = [(await host.next_event(spec.RECEIVE))["text"] for _ in range(5)]
    assert texts == [f"n{i}" for i in range(5)]
    # Each event waited only until the test took the one before it: no fixed pause
    # (the old behaviour paused a whole second, and the stall would say so).
    resumed = await logged(caplog, "reading test again")
    stalled_for = resumed.args[1] if isinstance(resumed.args, tuple) else None
    assert isinstance(stalled_for, float)
    assert stalled_for < 1.0
    await until(lambda: reading(interface), "reading again")
    assert host.counters["backpressure_pauses"] >= 1
    assert host.counters["dropped_full"] == 0


async def test_a_full_worker_inbox_is_named_and_nothing_is_lost(
    ngircd: Ngircd, peers: Peers, room: str, nick: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The real host and worker: a consumer that cannot keep up fills the worker's inbox.
    The log names that inbox (not ``irc-client.receive``, where nothing is waiting), the
    network stops being read, and once the consumer catches up every message arrives,
    in order."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    release = asyncio.Event()
    seen: list[str] = []

    async def slow(message: AsyncMessage) -> None:
        seen.append(message["text"])
        await release.wait()

    layer = InMemoryChannelLayer(channel_capacity={"*!inbox": 4})
    config = IrcConfig(networks=[network(ngircd.port, nick, channels=[room])])
    stack = await IrcStack.start(config, [route(spec.RECEIVE, slow)], layer=layer)
    try:
        alice = await peers("alice23").connect(ngircd.port)
        await alice.join(room)
        await alice.expect(joined(nick, room))
        alice.send(f"PRIVMSG {room} :m0")  # binds the room to the worker
        await until(lambda: seen == ["m0"], "the first message consumed")
        count = 100  # the worker holds 64 (its concurrency), its inbox 4: the rest wait
        for i in range(1, count):
            alice.send(f"PRIVMSG {room} :m{i}")
        warning = (await logged(caplog, "stopped reading")).getMessage()
        assert stack.worker is not None
        assert f"channel '{stack.worker.inbox}' is at capacity" in warning, warning
        assert "'irc-client.receive'" not in warning
        # The worker still takes events into its per-connection queue (up to its
        # concurrency) after the first pause, so reading may resume and pause again a
        # few times; with the consumer stuck it must end up paused.
        await until(lambda: not reading(stack.interface), "reading paused for good")
        release.set()
        await until(lambda: len(seen) == count, f"{count} messages consumed")
        assert seen == [f"m{i}" for i in range(count)]
        await logged(caplog, "reading test again")
        assert reading(stack.interface)
        assert stack.counters["backpressure_pauses"] >= 1
        assert stack.counters["dropped_full"] == 0
    finally:
        release.set()
        await stack.stop()


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_the_runtime_gives_a_conversation_room_for_what_its_worker_can_answer(
    backend: str,
) -> None:
    """A room's replies share one reply channel: while its interface server is busy,
    the worker answers what its inbox holds, and those replies must fit."""
    config = TelephonistConfig.model_validate({"layer": {"BACKEND": backend}})
    layer = build_layer(config)
    reply_channel = "srv.1a2b3c.5d8e0c7a9b21!irc.0123456789abcdef"
    assert layer.get_capacity(reply_channel) == 2000
    assert layer.get_capacity(reply_channel) > layer.get_capacity("worker.a.b!inbox")
    assert layer.get_capacity("srv.1a2b3c.5d8e0c7a9b21!ws.0123") == 100
    override = {"BACKEND": backend, "CONFIG": {"channel_capacity": {"*!irc.*": 50}}}
    mine = build_layer(TelephonistConfig.model_validate({"layer": override}))
    assert mine.get_capacity(reply_channel) == 50
