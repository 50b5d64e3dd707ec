"""``/metrics`` on a port of its own, served on the process's event loop.

Why not ``prometheus_client.start_http_server``: it serves from a thread, and the
collector reads the server's and worker's state, which the loop changes as it reads.
On the loop, a scrape sees one consistent moment. The server is deliberately small:
one ``GET`` per connection, a request head of at most :data:`MAX_HEAD` bytes read
within :data:`HEAD_TIMEOUT` seconds, at most :data:`MAX_CLIENTS` scrapes at once
(others are closed at once); anything else is answered ``404``/``405``/``400``.
By default it listens on loopback (``metrics.host``): what it shows (routes, channel
and group names, counts) is for the operator's scraper, not for the internet.

With ``metrics.http_path`` set, the same registry is also mounted on every ``http``
interface of the process (``interfaces/mounts.py``), for deployments that can only
reach the web port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["HEAD_TIMEOUT", "MAX_CLIENTS", "MAX_HEAD", "MetricsEndpoint"]

log = logging.getLogger("telephonist.metrics")

MAX_HEAD = 8192
HEAD_TIMEOUT = 5.0
MAX_CLIENTS = 16


def _response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class MetricsEndpoint:
    """Serves ``registry`` as Prometheus text on ``GET /metrics``."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._clients = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD)

    def endpoints(self) -> list[str]:
        if self._server is None:
            return []
        out = []
        for sock in self._server.sockets:
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            out.append(f"http://{shown}:{port}/metrics")
        return out

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._clients >= MAX_CLIENTS:
            writer.close()
            return
        self._clients += 1
        try:
            writer.write(await self._answer(reader))
            await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._clients -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> bytes:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        except asyncio.LimitOverrunError:
            return _response("431 Request Header Fields Too Large", b"request head too large\n")
        request = head.split(b"\r\n", 1)[0].split()
        if len(request) != 3:
            return _response("400 Bad Request", b"bad request line\n")
        method, target = request[0], request[1].split(b"?", 1)[0]
        if target != b"/metrics":
            return _response("404 Not Found", b"only /metrics is served here\n")
        if method != b"GET":
            return _response("405 Method Not Allowed", b"GET /metrics\n")
        try:
            body = generate_latest(self.registry)
        except Exception:  # a collector bug: say so, keep serving
            log.exception("collecting metrics failed")
            return _response("500 Internal Server Error", b"collecting metrics failed\n")
        return _response("200 OK", body, CONTENT_TYPE_LATEST)
