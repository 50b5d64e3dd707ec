"""One IRC network: connect, register, stay alive, reconnect.

Theory of operation
-------------------
:class:`NetworkClient` runs one supervised task per network. Each pass of its loop is
one *attempt*: open the transport (``transport.py``; TLS verified by default), register
(``registration.py``: CAP/SASL, nick fallbacks) and, once the server sends 001, rejoin
every wanted channel (configured ones plus those joined on request since), run the
outbox (``outbox.py``: paced sending) and the keepalive (``keepalive.py``) until the
connection is lost. Then wait a back-off delay (exponential with jitter, reset after a
registered attempt) and try again, until ``stop`` or ``reconnect_attempts`` failures.

Server lines arrive through a synchronous callback: PING is answered at once, and the
rest, once the session (``session.py``) has seen them, go to the owner's ``on_line``.
Registration lines, PONG, our PING and QUIT are written at once (``write_now``);
everything else goes through the outbox and its token bucket (``send``), unless
``flood_control`` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from pydantic import SecretStr

from .caps import Negotiation
from .config import ChannelSpec, NetworkConfig
from .flood import Backoff, TokenBucket
from .keepalive import Keepalive
from .lines import Line, LineError, format_line, parse_line
from .logmask import masked
from .outbox import Outbox
from .registration import Registration
from .session import Session, casefold
from .transport import IrcConnection, IrcReactor, tls_context

__all__ = ["NetworkClient", "NetworkOwner"]


class NetworkOwner(Protocol):
    """What the interface gives a network client (callbacks run on the loop)."""

    def on_registered(self, client: NetworkClient) -> None: ...
    def on_line(self, client: NetworkClient, line: Line) -> None: ...
    def on_disconnected(self, client: NetworkClient, reason: str, registered: bool) -> None: ...


class NetworkClient:
    def __init__(self, config: NetworkConfig, reactor: IrcReactor, owner: NetworkOwner) -> None:
        self.config = config
        self.name = config.name
        self.log = logging.getLogger(f"telephonist.interfaces.irc.{config.name}")
        self._reactor = reactor
        self._owner = owner
        self.session = Session(config.nick)
        self.registration = Registration(config)
        self.state = "idle"
        self.last_error = ""
        self.wanted: dict[str, ChannelSpec] = {}
        for channel in config.channels:
            self.wanted[casefold(channel.name)] = channel
        bucket = None
        if config.flood_control:
            bucket = TokenBucket(config.flood_burst, config.flood_rate)
        self.outbox = Outbox(bucket, config.max_queue, self.write_now)
        self._conn: IrcConnection | None = None
        self._lost: asyncio.Future[str] | None = None
        self._registered: asyncio.Future[None] | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.keepalive = Keepalive(config.ping_timeout)
        self.counters = {"connects": 0, "disconnects": 0, "lines_sent": 0, "queue_full": 0}

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"irc-{self.name}")

    @property
    def registered(self) -> bool:
        return self.state == "ready"

    @property
    def negotiation(self) -> Negotiation:
        return self.registration.negotiation

    async def drain(self) -> None:
        """Wait until every queued line has been written or the connection is gone."""
        if not self.registered or self._lost is None:
            return
        joined: asyncio.Future[Any] = asyncio.ensure_future(self.outbox.drained())
        waits: list[asyncio.Future[Any]] = [joined, self._lost]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        joined.cancel()

    async def stop(self, quit_message: str, grace: float = 5.0) -> None:
        """QUIT, close, and end the run task (bounded by ``grace`` seconds)."""
        self._stopping.set()
        self.close("stopping", quit_message)
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, grace)  # cancels the task on timeout
        self.state = "stopped"

    async def quit(self, message: str) -> None:
        """QUIT with ``message`` and do not reconnect (a consumer asked for it)."""
        self._stopping.set()
        self.close("quit requested", message)

    def close(self, reason: str, quit_message: str | None = None) -> None:
        """Say QUIT and close this attempt's connection; ``reason`` is what we log."""
        conn = self._conn
        if conn is not None and conn.connected:
            self.write_now(format_line("QUIT", quit_message or self.config.quit_message))
            conn.disconnect(reason)

    # -- sending ----------------------------------------------------------------------

    def write_now(self, line: str) -> None:
        """Write at once, outside flood control (registration, PONG, keepalive, QUIT)."""
        if self._conn is not None and self._conn.connected:
            if self.log.isEnabledFor(logging.DEBUG):  # masking costs: only when logged
                self.log.debug("-> %s", masked(line))
            self._conn.write_line(line)
            self.counters["lines_sent"] += 1

    def send(self, lines: list[str]) -> bool:
        """Queue ``lines`` for paced sending; ``False`` (nothing queued) if they do not fit
        or the network is not registered."""
        if not self.registered:
            return False
        if not self.outbox.put(lines):
            self.counters["queue_full"] += 1
            return False
        return True

    # -- reading ----------------------------------------------------------------------

    def pause_reading(self) -> None:
        if self._conn is not None:
            self._conn.pause_reading()

    def resume_reading(self) -> None:
        if self._conn is not None:
            self._conn.resume_reading()

    def _on_line(self, raw: str) -> None:
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("<- %s", masked(raw))
        try:
            line = parse_line(raw)
        except LineError:
            self.log.debug("unparsable line %r", masked(raw[:100]))
            return
        command = line.command
        if command == "PING":
            self.write_now(format_line("PONG", line.param(0)))
            return
        if command == "PONG" and self.keepalive.pong(line.param(-1)):
            return
        if command == "ERROR":
            self.last_error = line.param(0)
            return
        self.session.observe(line)
        if not self.registration.registered or command == "CAP":
            for out in self.registration.feed(line):
                self.write_now(out)
            if self.registration.failure:
                self.close(self.registration.failure)
                return
            if self.registration.registered and self._registered and not self._registered.done():
                self._registered.set_result(None)
            if not self.registration.registered:
                self.session.nick = self.registration.nick  # a fallback nick, maybe
        self._regain_nick(line)
        self._owner.on_line(self, line)

    def _regain_nick(self, line: Line) -> None:
        # Someone holding our configured nick quit or renamed: take it back.
        wanted = self.config.nick
        if self.session.is_me(wanted) or line.source is None:
            return
        if line.command in ("QUIT", "NICK") and self.session.fold(
            line.source.nick
        ) == self.session.fold(wanted):
            self.write_now(format_line("NICK", wanted))

    # -- the attempt loop -------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff(self.config.reconnect_initial, self.config.reconnect_max)
        failures = 0
        while not self._stopping.is_set():
            try:
                registered = await self._attempt()
            except Exception:  # supervised: a bug in one attempt must not end the network
                self.log.exception("connection attempt to %s failed unexpectedly", self.name)
                self.close("internal error")
                registered = False
            if self._stopping.is_set():
                break
            if registered:
                backoff.reset()
                failures = 0
            else:
                failures += 1
            limit = self.config.reconnect_attempts
            if limit is not None and failures > limit:
                self.state = "failed"
                self.log.error("giving up on %s after %d failed attempts", self.name, failures)
                return
            delay = backoff.next_delay()
            self.state = "waiting"
            self.log.info("reconnecting to %s in %.1fs (%s)", self.name, delay, self.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        self.state = "stopped"

    async def _attempt(self) -> bool:
        """One connection attempt; ``True`` if it got registered."""
        config = self.config
        loop = asyncio.get_running_loop()
        self.session = Session(config.nick)
        self.registration = Registration(config)
        self._lost, self._registered = loop.create_future(), loop.create_future()
        self.keepalive = Keepalive(config.ping_timeout)
        self.last_error = ""
        self.state = "connecting"
        conn = self._conn = self._reactor.new_connection()
        opening = conn.open(
            config.host,
            config.port,
            tls_context(config),
            config.tls_server_name,
            self._on_line,
            self._on_lost,
            config.max_inbound_line,
        )
        try:
            await asyncio.wait_for(opening, config.connect_timeout)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            self.last_error = f"connect to {config.host}:{config.port} failed: {exc}"
            self.log.warning("%s", self.last_error)
            return False
        self.state = "registering"
        for line in self.registration.start():
            self.write_now(line)
        waits: list[asyncio.Future[Any]] = [self._registered, self._lost]
        timeout = config.registration_timeout
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        registered = self._registered.done()
        if registered:
            await self._serve()
        else:
            self.close("registration timed out")
            self.last_error = await self._lost
            self.log.warning("registration on %s failed: %s", self.name, self.last_error)
        self.state = "disconnected"
        self._owner.on_disconnected(self, self.last_error, registered)
        return registered

    async def _serve(self) -> None:
        assert self._lost is not None
        self.state = "ready"
        self.counters["connects"] += 1
        self.log.info("registered on %s as %s", self.name, self.session.nick)
        self._owner.on_registered(self)
        for channel in list(self.wanted.values()):
            key = channel.key.get_secret_value() if channel.key else None
            params = (channel.name, key) if key else (channel.name,)
            self.send([format_line("JOIN", *params, trailing=False)])
        tasks = [asyncio.ensure_future(self.outbox.run()), asyncio.ensure_future(self._keepalive())]
        try:
            self.last_error = await self._lost
        finally:
            self.state = "disconnected"
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            dropped = self.outbox.clear()
            self.counters["disconnects"] += 1
            if dropped:
                self.log.warning("dropped %d unsent lines on disconnect", dropped)

    def _on_lost(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(self.last_error or reason)

    async def _keepalive(self) -> None:
        while self.registered:
            await asyncio.sleep(self.config.ping_interval)  # a timer: the keepalive period
            action, text = self.keepalive.tick()
            if action == "ping":
                self.write_now(text)
            elif action == "dead":
                self.last_error = text
                self.close(text)
                return

    # -- channels and status ----------------------------------------------------------

    # The wanted set outlives sessions (and their CASEMAPPING): keys are folded the
    # widest way, rfc1459, so "#a[b" and "#A{B" are one channel whatever the server.

    def want_channel(self, name: str, key: str | None) -> None:
        secret = SecretStr(key) if key is not None else None
        self.wanted[casefold(name)] = ChannelSpec(name=name, key=secret)

    def forget_channel(self, name: str) -> None:
        self.wanted.pop(casefold(name), None)

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "server": f"{self.config.host}:{self.config.port}",
            "nick": self.session.nick,
            "channels": sorted(self.session.channels.values()),
            "caps": sorted(self.negotiation.enabled),
            "lag": self.keepalive.lag,
            "queued": len(self.outbox),
            "last_error": self.last_error,
            **self.counters,
        }
