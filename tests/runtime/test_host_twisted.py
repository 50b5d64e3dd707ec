"""Twisted on the shared loop: an interface with ``uses_twisted`` runs beside an asyncio
one in one process, and a plugin that installs the wrong reactor is named.

The plugins here are real distributions (a ``.dist-info`` with entry points) placed in
the project directory, which the command puts on ``sys.path``.
"""

from __future__ import annotations

import signal
import socket
import textwrap
from collections.abc import Callable

from .conftest import TIMEOUT, ChatClient, Project, Spawn, run_cli

ECHO = """
import asyncio

from telephonist.interfaces.base import Interface, InterfaceConfig


class EchoConfig(InterfaceConfig):
    port: int = 0


class TwistedEcho(Interface):
    name = "techo"
    config_model = EchoConfig
    uses_twisted = True

    async def start(self):
        # Imported here, not at module level: the host installs the asyncio reactor first.
        from twisted.internet import protocol, reactor

        class Echo(protocol.Protocol):
            def dataReceived(self, data):
                kind = type(reactor).__name__
                self.transport.write(data.upper() + f" {kind} {reactor.running}\\n".encode())

        self.port = reactor.listenTCP(
            self.config.port, protocol.Factory.forProtocol(Echo), interface="127.0.0.1"
        )

    async def stop(self, drain_timeout):
        await self.port.stopListening()

    def endpoints(self):
        return [f"tcp://127.0.0.1:{self.port.getHost().port}"]
"""

EAGER = """
from twisted.internet import reactor  # at import time: installs the default reactor

from techo_plugin import TwistedEcho


class Eager(TwistedEcho):
    name = "eager"
"""


def _install_plugins(project: Project) -> None:
    project.write("techo_plugin.py", ECHO)
    project.write("eager_plugin.py", EAGER)
    info = project.path / "techo_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: techo-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [telephonist.interfaces]
            techo = techo_plugin:TwistedEcho
            eager = eager_plugin:Eager
            """
        )
    )


def test_a_twisted_interface_and_an_asyncio_one_share_the_loop(
    project: Project, spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    _install_plugins(project)
    proc = spawn("run", "-s", "interfaces.techo.port=0").ready()
    with socket.create_connection(("127.0.0.1", proc.endpoint("techo")), timeout=TIMEOUT) as sock:
        sock.sendall(b"ping")
        reply = sock.makefile("rb").readline().decode()
    assert reply == "PING AsyncioSelectorReactor True\n"
    chat = clients(proc.endpoint("linechat"))
    assert chat.line().startswith("welcome")
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


def test_a_plugin_that_imports_the_reactor_early_is_named(project: Project) -> None:
    _install_plugins(project)
    done = run_cli(project, "serve", "-s", "interfaces.eager.port=0")
    assert done.returncode == 2
    assert "installed as EPollReactor (imported by plugin eager)" in done.stderr
    assert "import twisted.internet.reactor inside Interface.start()" in done.stderr
