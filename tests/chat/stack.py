"""Every chat interface at once, in the test's process and loop: the production host
(``InterfaceServer``) with HTTP/WebSocket, IRC (against real servers), email (with an
aiosmtpd relay that hands each mail it gets to the test), the linechat plugin and Slack
(against the stand-in, ``telephonist.testing.slack``), and a
production ``Worker`` with the test's routing, over one in-memory layer.

Twisted's reactor is bound to the session's loop, so everything here runs on it
(``conftest.py``). Waits are bounded waits on events; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP
from telephonist_linechat import LineChatConfig, LineChatInterface
from telephonist_udpchat import UdpChatConfig, UdpChatInterface

from telephonist.config.model import AffinitySettings, ServerSettings, WorkerSettings
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.email import EmailConfig, EmailInterface
from telephonist.interfaces.http import HttpConfig, HttpInterface
from telephonist.interfaces.irc import IrcConfig, IrcInterface, NetworkConfig
from telephonist.interfaces.plugins import ConfiguredInterface, InterfacePlugin
from telephonist.interfaces.slack import SlackConfig, SlackInterface
from telephonist.routing import Include, Route, Router
from telephonist.server import InterfaceServer
from telephonist.worker import Worker
from tests.http.harness import http_plugin, port_of, twisted_reactor
from tests.irc.stack import irc_plugin

__all__ = ["DOMAIN", "IRC_FAST", "ChatStack", "MailSink", "chat_stack"]

AFFINITY = AffinitySettings(heartbeat_interval=0.5, bind_timeout=5.0)
DOMAIN = "chat.test"
#: What a ChatConsumer routes on IRC (docs/irc.md, "events").
IRC_EVENTS = ("receive", "join", "part", "kick", "quit", "topic")
IRC_FAST: dict[str, Any] = {
    "tls": False, "ping_interval": 5.0, "ping_timeout": 10.0, "reconnect_initial": 0.05,
    "reconnect_max": 0.5, "registration_timeout": 10.0, "connect_timeout": 5.0,
    "flood_burst": 20, "flood_rate": 100.0,
}  # fmt: skip


class MailSink:
    """The relay the email interface sends replies through: a real SMTP server
    (aiosmtpd) whose handler queues every mail it accepts for the test."""

    def __init__(self) -> None:
        self.mails: asyncio.Queue[EmailMessage] = asyncio.Queue()
        self.server: asyncio.Server | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        await self.mails.put(mail)
        return "250 OK"

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: SMTP(self), "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def next(self, within: float = 15) -> EmailMessage:
        async with asyncio.timeout(within):
            return await self.mails.get()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@dataclass
class ChatStack:
    server: InterfaceServer
    layer: InMemoryChannelLayer
    sink: MailSink
    worker: Worker | None = None
    ports: dict[str, int] = field(default_factory=dict)
    activity: asyncio.Event = field(default_factory=asyncio.Event)

    def instrument(self) -> None:
        """Wrap each interface's ``host.count`` so a test can wait on what it counts."""
        for iface in self.server.interfaces.values():
            view: Any = iface.host
            count = view.count

            def counting(name: str, n: int = 1, count: Any = count) -> None:
                count(name, n)
                self.activity.set()

            view.count = counting

    def counters(self, interface: str) -> Counter[str]:
        return Counter(self.server.status()["interfaces"][interface]["counters"])

    async def counted(self, interface: str, name: str, at_least: int = 1) -> None:
        """Wait (bounded) until ``interface`` counted ``name`` ``at_least`` times,
        re-checking after each count of any interface."""
        async with asyncio.timeout(10):
            while self.counters(interface)[name] < at_least:
                self.activity.clear()
                await self.activity.wait()


def _plugin(name: str, cls: Any, config: Any, dist: str = "telephonist") -> ConfiguredInterface:
    plugin = InterfacePlugin(name, f"{cls.__module__}:{cls.__name__}", dist, cls=cls)
    return ConfiguredInterface(plugin, cls, config)


@contextlib.asynccontextmanager
async def chat_stack(
    routing: Sequence[Route | Include],
    *,
    irc: Sequence[NetworkConfig] = (),
    http: bool = True,
    email: bool = True,
    linechat: bool = True,
    slack: Mapping[str, Any] | None = None,
    udpchat: bool = False,
) -> AsyncIterator[ChatStack]:
    """The interfaces asked for, and a worker routing ``routing``."""
    twisted_reactor()
    layer = InMemoryChannelLayer()
    sink = MailSink()
    plugins: list[ConfiguredInterface] = []
    if http:
        plugins.append(http_plugin(HttpConfig(endpoints=["tcp:port=0:interface=127.0.0.1"])))
    if email:
        relay = {"host": "127.0.0.1", "port": await sink.start(), "tls": "none"}
        # The people of these tests write from example.org without AUTH: their replies
        # need the allow-list (docs/security.md, "Mail").
        config = EmailConfig(port=0, domains=(DOMAIN,), relay=relay, reply_window=60.0,
                             reply_senders=("@example.org",), reply_rate=1000)  # fmt: skip
        plugins.append(_plugin("email", EmailInterface, config))
    if linechat:
        config_lc = LineChatConfig(port=0)
        plugins.append(_plugin("linechat", LineChatInterface, config_lc, "telephonist-linechat"))
    if udpchat:
        config_udp = UdpChatConfig(port=0)
        plugins.append(_plugin("udpchat", UdpChatInterface, config_udp, "telephonist-udpchat"))
    if irc:
        plugins.append(irc_plugin(IrcConfig(networks=tuple(irc), events=IRC_EVENTS)))
    if slack is not None:  # settings pointing at a SlackStandIn (settings_for)
        plugins.append(_plugin("slack", SlackInterface, SlackConfig.model_validate(slack)))
    server = InterfaceServer(layer, plugins, ServerSettings(drain_timeout=5.0), AFFINITY)
    stack = ChatStack(server, layer, sink)
    stack.worker = Worker(layer, Router(list(routing)), WorkerSettings(), AFFINITY)
    await stack.worker.start()
    await server.start()
    stack.instrument()
    try:
        if http:
            iface = server.interfaces["http"]
            assert isinstance(iface, HttpInterface)
            stack.ports["http"] = port_of(iface)
        for name in ("email", "linechat", "udpchat"):
            if name in server.interfaces:
                endpoint = server.interfaces[name].endpoints()[0]
                stack.ports[name] = int(endpoint.rsplit(":", 1)[1])
        if irc:
            assert isinstance(server.interfaces["irc"], IrcInterface)
        yield stack
    finally:
        await server.stop(drain_timeout=2.0)
        await stack.worker.stop(drain_timeout=2.0)
        await layer.close()
        await sink.close()
