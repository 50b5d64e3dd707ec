"""The wire under one network: the ``irc`` library's asyncio connection, adapted.

Theory of operation
-------------------
``irc.client_aio.AioConnection`` gives us the asyncio transport (TCP or TLS through
``AioFactory`` on the shared loop), line buffering, decoding and encoding. Its
``connect`` sends NICK and USER at once, which leaves no room for ``CAP LS`` before
registration, and it parses lines into its own events. So :class:`IrcConnection` keeps
the library's plumbing but:

* ``open`` only opens the transport; registration (CAP, PASS, NICK, USER) is ours;
* every decoded line goes to one callback, unparsed, so the interface has a single
  parser (``lines.py``) and sees tags and numerics exactly as sent;
* a line longer than ``max_line`` bytes without a line end closes the connection instead
  of growing the buffer without bound;
* lines are decoded as UTF-8 with a fall-back to Latin-1 per line (what the library's
  ``LenientDecodingLineBuffer`` does), because IRC has no declared encoding and one
  badly encoded line must not kill a bot;
* pausing reading takes effect at the next line, not the next read: one read can hold
  thousands of lines, and handing them all over at once would defeat the interface's
  backpressure and keep the loop from everything else (replies included) meanwhile.
  Read lines wait here while reading is paused, and at most ``_LINES_PER_PASS`` are
  handed over in one pass of the event loop (the library's buffer cannot stop halfway,
  which is why the splitting is ours);
* losing the transport calls ``on_lost`` exactly once with a reason;
* the first line written in a pass of the event loop goes out at once, the others of
  that pass together with one ``write`` (one system call) when it ends: a bot answering
  a burst of messages would otherwise pay a system call, and a TCP segment, per reply,
  and a lone reply does not wait for the pass to end.

The library's ``send_raw`` refuses LF but not CR or NUL; every line we write has already
passed ``lines.format_line``, which refuses all three. It also logs every line at DEBUG,
``PASS`` and ``AUTHENTICATE`` included, so ``write_line`` writes to the transport itself
(``network.py`` logs the masked line) and the library's loggers get a masking filter
(``logmask.py``) in case any other path of it logs a line.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

from irc.client_aio import AioConnection, AioReactor, IrcProtocol
from irc.connection import AioFactory

from .config import NetworkConfig
from .logmask import install_library_filters, masked

__all__ = ["IrcConnection", "IrcReactor", "tls_context"]

log = logging.getLogger("telephonist.interfaces.irc")
install_library_filters()

_LINES_PER_PASS = 64  # lines handed over before the loop gets a turn

LineCallback = Callable[[str], None]
LostCallback = Callable[[str], None]


def tls_context(config: NetworkConfig) -> ssl.SSLContext | None:
    """The client TLS context for ``config``: verifying by default, with a client cert
    (for CertFP / SASL EXTERNAL) when one is configured."""
    if not config.tls:
        return None
    context = ssl.create_default_context(cafile=config.tls_ca_file)
    if not config.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.tls_client_cert:
        context.load_cert_chain(config.tls_client_cert, config.tls_client_key)
    return context


class _Protocol(IrcProtocol):  # type: ignore[misc]  # the library is untyped
    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"connection lost: {exc}" if exc else "the server closed the connection"
        self.connection.disconnect(reason)


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # decodes anything: one odd line must not kill a bot


class IrcConnection(AioConnection):  # type: ignore[misc]
    protocol_class = _Protocol

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        self.on_line: LineCallback = lambda line: None
        self.on_lost: LostCallback = lambda reason: None
        self.max_line = 8704
        self.transport: asyncio.Transport | None = None
        self._corked = False  # a line went out in this pass of the loop: hold the rest
        self._unsent: list[bytes] = []  # held until the pass ends
        self._partial = b""  # the start of a line whose end has not come yet
        self._read: deque[bytes] = deque()  # whole lines read, not yet handed over
        self._holding = False  # reading paused: hand over no more lines
        self._handing = False  # a pass of _hand_over is scheduled

    async def open(
        self,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        server_hostname: str | None,
        on_line: LineCallback,
        on_lost: LostCallback,
        max_line: int,
    ) -> None:
        """Open the transport (no registration). Raises ``OSError``/``ssl.SSLError``."""
        self.handlers: dict[str, Any] = {}
        self.real_server_name = ""
        self.server, self.port = host, port
        self.server_address = (host, port)
        self.on_line, self.on_lost, self.max_line = on_line, on_lost, max_line
        args: dict[str, Any] = {}
        if tls is not None:
            args = {"ssl": tls, "server_hostname": server_hostname or host}
        protocol = self.protocol_class(self, self.reactor.loop)
        self.transport, self.protocol = await AioFactory(**args)(protocol, (host, port))
        self.connected = True

    def process_data(self, new_data: bytes) -> None:
        # Called by the library's protocol for every chunk read.
        *lines, self._partial = (self._partial + new_data).split(b"\n")
        self._read.extend(lines)
        self._hand_over()
        if len(self._partial) > self.max_line:
            self.disconnect(f"server line longer than {self.max_line} bytes")

    def _hand_over(self) -> None:
        """Give read lines to ``on_line``, in order, until reading is paused; at most
        ``_LINES_PER_PASS`` in one pass of the loop, the rest in the next ones."""
        self._handing = False
        read = self._read
        for _ in range(_LINES_PER_PASS):
            if not read or self._holding or not self.connected:
                return
            raw = read.popleft()
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw:
                continue
            line = _decoded(raw)
            try:
                self.on_line(line)
            except Exception:  # one bad line must not drop the connection
                log.exception("error handling the line %r", masked(line[:200]))
        if read and not self._holding and self.connected:
            self._handing = True
            self.reactor.loop.call_soon(self._hand_over)

    def write_line(self, line: str) -> None:
        """Send one formatted line (CR LF added, and the library's checks made, by its
        ``_prep_message``). The first line of a pass of the event loop goes out at once;
        the ones after it in that pass go out together when it ends."""
        if not self.connected or self.transport is None:
            return
        # Not ``send_raw``: it logs the line unmasked (see the module docstring).
        data = self._prep_message(line)
        if self._corked:
            self._unsent.append(data)
        else:
            self.transport.write(data)
            self._corked = True
            self.reactor.loop.call_soon(self._uncork)

    def _uncork(self) -> None:
        self._corked = False
        unsent, self._unsent = self._unsent, []
        if unsent and self.connected and self.transport is not None:
            self.transport.write(b"".join(unsent))

    def pause_reading(self) -> None:
        self._holding = True
        if self.connected and self.transport is not None:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        self._holding = False
        if self.connected and self.transport is not None:
            self.transport.resume_reading()
            if self._read and not self._handing:
                self._handing = True
                self.reactor.loop.call_soon(self._hand_over)

    def disconnect(self, message: str = "") -> None:
        # The library's version sends QUIT first; ours is called when the transport is
        # already gone (connection_lost) or after we sent our own QUIT, so only close.
        if not getattr(self, "connected", False):
            return
        self._uncork()  # what we wrote before closing (our QUIT) still goes out
        self.connected = False
        if self.transport is not None:
            self.transport.close()
        self.on_lost(message or "connection closed")


class IrcReactor(AioReactor):  # type: ignore[misc]
    """The library's reactor on the shared loop, making :class:`IrcConnection` objects."""

    connection_class = IrcConnection

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        # We answer the server's PING ourselves (with our own parser): drop the library's
        # global handler so no second PONG is sent.
        self.handlers.clear()

    def new_connection(self) -> IrcConnection:
        # Not ``self.server()``: that keeps every connection ever made in a list, and a
        # bot that reconnects for months would grow it without bound.
        return IrcConnection(self)
