"""Fixtures for the IRC tests: real servers, the interface on a small host, peers."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from telephonist.interfaces.irc import IrcConfig, IrcInterface, NetworkConfig, spec
from telephonist.interfaces.irc.config import EVENT_KINDS
from tests.irc.harness import MiniHost
from tests.irc.peer import Peer, joined
from tests.irc.servers import InspIRCd, Ngircd
from tests.irc.services import SERVICES_NAME, AnopeServices
from tests.irc.stack import IrcStack
from tests.servers import require_service

#: Settings that keep the tests fast: short keepalive, quick reconnects, no TLS.
FAST: dict[str, Any] = {
    "tls": False,
    "ping_interval": 5.0,
    "ping_timeout": 10.0,
    "reconnect_initial": 0.05,
    "reconnect_max": 0.5,
    "registration_timeout": 10.0,
    "connect_timeout": 5.0,
    "flood_burst": 10,
    "flood_rate": 100.0,
}


def start_ngircd(directory: Path) -> Ngircd:
    binary = Ngircd.find()
    if binary is None:
        require_service("ngircd (apt install ngircd; scripts/peers/irc.sh)")
    return Ngircd(directory, binary=binary or "ngircd").start()


@pytest.fixture(scope="session")
def ngircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ngircd]:
    """One ngircd for the tests that do not restart or freeze it (unique channels each)."""
    server = start_ngircd(tmp_path_factory.mktemp("ngircd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def inspircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InspIRCd]:
    """InspIRCd 3 with the IRCv3 modules (server-time, message-tags, echo-message)."""
    binary = InspIRCd.find()
    if binary is None:
        require_service("inspircd (apt install inspircd; scripts/peers/irc.sh)")
    server = InspIRCd(tmp_path_factory.mktemp("inspircd"), binary=binary or "").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def inspircd_anope() -> Iterator[InspIRCd]:
    """InspIRCd with Anope linked as its services: NickServ accounts and SASL (PLAIN,
    and EXTERNAL on its TLS port)."""
    ircd_binary, anope_binary = InspIRCd.find(), AnopeServices.find()
    if ircd_binary is None or anope_binary is None:
        require_service("inspircd and anope (apt install inspircd anope; scripts/peers/irc.sh)")
    # Anope runs as nobody: pytest's own temp dirs are private to root, so use a
    # world-traversable one (removed afterwards).
    base = Path(tempfile.mkdtemp(prefix="telephonist-anope-"))
    base.chmod(0o755)
    server = InspIRCd(
        base / "ircd", binary=ircd_binary or "", services=SERVICES_NAME, tls=True
    ).start()
    services = AnopeServices(base / "anope", server, binary=anope_binary or "")
    try:
        services.start()
        yield server
    finally:
        services.stop()
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def private_ngircd(tmp_path: Path) -> Iterator[Ngircd]:
    """An ngircd of this test's own, to restart or freeze."""
    server = start_ngircd(tmp_path / "ngircd")
    yield server
    server.stop()


@pytest.fixture
def room(request: pytest.FixtureRequest) -> str:
    """A channel name unique to this test, so tests sharing a server do not meet."""
    return "#t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]


@pytest.fixture
def nick(request: pytest.FixtureRequest) -> str:
    return "bot" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]


def network(port: int, nick: str, **overrides: Any) -> NetworkConfig:
    settings = {**FAST, "name": "test", "host": "127.0.0.1", "port": port, "nick": nick}
    return NetworkConfig.model_validate({**settings, **overrides})


#: ``(interface, runtime)``: the runtime is an ``IrcStack`` (the real host and a worker
#: whose recorder consumer hands events to the test) or, where a test asks for it, a
#: ``MiniHost``; both offer ``layer``, ``next_event`` and ``counters``.
Started = tuple[IrcInterface, Any]


async def bot_in_room(
    start_irc: Callable[..., Awaitable[Started]],
    peers: Callable[[str], Peer],
    port: int,
    room: str,
    nick: str,
    watcher: str,
    **overrides: Any,
) -> tuple[Peer, Any]:
    """``watcher`` joins ``room`` first, then the bot (``network(port, nick, ...)``)
    starts in it; once the watcher has seen the bot join: (the watcher, the runtime)."""
    peer = await peers(watcher).connect(port)
    await peer.join(room)
    _, runtime = await start_irc(network(port, nick, channels=[room], **overrides))
    await peer.expect(joined(nick, room))
    return peer, runtime


async def said(peer: Peer, runtime: Any, room: str, text: str) -> dict[str, Any]:
    """``peer`` says ``text`` in ``room``; the message event the bot published for it."""
    peer.send(f"PRIVMSG {room} :{text}")
    event: dict[str, Any] = await runtime.next_event(spec.RECEIVE)
    return event


async def answered(
    runtime: Any, reply_channel: str, peer: Peer, to: str, nick: str, text: str
) -> None:
    """A consumer's ``text`` on ``reply_channel`` reaches ``peer`` in ``to`` (a room, or
    the peer's own nick), sent by the bot ``nick``, as one line."""
    await runtime.layer.send(reply_channel, {"text": text})
    (reply,) = await peer.privmsgs(to, 1, sender=nick)
    assert reply.line.param(1) == text


@pytest.fixture
async def start_irc() -> AsyncIterator[Callable[..., Awaitable[Started]]]:
    """``await start_irc(network(...), ...)``: the interface on the real host with a
    worker (or on ``host=MiniHost(...)``), stopped after the test."""
    stacks: list[IrcStack] = []
    minis: list[tuple[IrcInterface, MiniHost]] = []

    async def start(
        *networks: NetworkConfig, host: MiniHost | None = None, **settings: Any
    ) -> Started:
        settings.setdefault("events", EVENT_KINDS)  # the recorder routes them all
        config = IrcConfig(networks=networks, **settings)
        if host is not None:
            interface = IrcInterface(config, host)
            await interface.start()
            minis.append((interface, host))
            return interface, host
        stack = await IrcStack.start(config)
        stacks.append(stack)
        return stack.interface, stack

    yield start
    for stack in stacks:
        await stack.stop()
    for interface, mini in minis:
        await interface.stop(drain_timeout=2)
        await mini.close()


@pytest.fixture
async def peers() -> AsyncIterator[Callable[[str], Peer]]:
    """``peers("alice")``: an independent raw-socket client, closed after the test."""
    made: list[Peer] = []

    def make(nick: str) -> Peer:
        peer = Peer(nick)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        await peer.close()
