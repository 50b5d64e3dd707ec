"""Every limit answers the client the protocol's way, logs, counts, and leaves every
other client served. Real sockets on loopback; every wait is bounded."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import httpx
import pytest

from telephonist.interfaces.base import ABORT
from tests.http import apps
from tests.http.clients import parse, read_all, send_raw, status_of
from tests.http.harness import port_of, serve


async def _ok(port: int) -> None:
    """Someone else is still served."""
    async with httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{port}/other")
    assert r.status_code == 200


async def test_declared_body_too_large_413() -> None:
    async with serve(apps.echo, max_body_bytes=1000) as (iface, host, worker):
        raw = await send_raw(
            port_of(iface), b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
        )
        assert status_of(raw) == 413
        assert host.counts["body_too_large"] == 1
        assert worker.received == []  # refused before anything reached the layer
        await _ok(port_of(iface))


async def test_streamed_body_too_large_413_and_consumer_told() -> None:
    rec = apps.Recorder()
    settings = {"max_body_bytes": 3000, "body_chunk_bytes": 1024}
    async with serve(rec.never_answer, **settings) as (iface, host, _worker):
        chunk = b"800\r\n" + b"a" * 0x800 + b"\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(iface))
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk)
        # The consumer has the first chunk (its worker is bound) before the limit is hit.
        await asyncio.wait_for(rec.started.wait(), 5)
        writer.write(chunk * 2)
        raw = await read_all(reader, 5)
        writer.close()
        assert status_of(raw) == 413
        assert host.counts["body_too_large"] == 1
        await asyncio.wait_for(rec.disconnected.wait(), 5)
        await _ok(port_of(iface))


@pytest.mark.parametrize(
    ("head", "counter"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 2000 + b"\r\n\r\n", "headers_too_large"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(20))
            + b"\r\n",
            "headers_too_many",
        ),
        # Never completed, but already over the limit: refused without waiting.
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 2000, "headers_too_large"),
    ],
)
async def test_headers_too_large_431(head: bytes, counter: str) -> None:
    async with serve(apps.echo, max_header_bytes=1024, max_header_count=10) as (iface, host, _):
        raw = await send_raw(port_of(iface), head)
        assert status_of(raw) == 431
        assert host.counts[counter] == 1
        await _ok(port_of(iface))


async def test_response_timeout_504_and_consumer_told() -> None:
    rec = apps.Recorder()
    async with serve(rec.never_answer, response_timeout=0.3) as (iface, host, _):
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port_of(iface)}/slow")
        assert r.status_code == 504
        assert host.counts["response_timeout"] == 1
        await asyncio.wait_for(rec.disconnected.wait(), 5)


async def test_start_without_body_still_times_out() -> None:
    async def half(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async with serve(half, response_timeout=0.3) as (iface, host, _):
        raw = await send_raw(port_of(iface), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(raw) == 504
        assert host.counts["response_timeout"] == 1


async def test_channel_full_503_with_retry_after() -> None:
    async with serve(
        apps.echo, run_worker=False, capacity=1, response_timeout=1, retry_after=7
    ) as (iface, host, _):
        port = port_of(iface)
        first = asyncio.ensure_future(send_raw(port, b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"))
        # The first request now fills the one-slot channel (nobody reads it).
        await host.until(lambda: host.layer.depths().get("http.request") == 1)
        raw = await send_raw(port, b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        (resp,) = parse(raw)
        assert resp.status == 503
        assert resp.headers[b"retry-after"] == b"7"
        assert host.counts["channel_full"] == 1
        assert status_of(await first) == 504


async def test_abort_before_response_502_after_start_close() -> None:
    async def app(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        if first["path"] == "/late":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": ABORT, "reason": "worker died"})

    async with serve(app) as (iface, host, _):
        port = port_of(iface)
        raw = await send_raw(port, b"GET /early HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(raw) == 502
        raw = await send_raw(port, b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(raw) == 200
        assert not raw.endswith(b"0\r\n\r\n")  # cut short: no final chunk
        assert host.counts["aborted"] == 2


@pytest.mark.parametrize(
    "start",
    [
        {"type": "http.response.start", "status": "200"},
        {"type": "http.response.start", "status": 99},
        {"type": "http.response.start", "status": 200, "headers": [[b"x\r\nevil", b"1"]]},
        {"type": "http.response.start", "status": 200, "headers": [[b"x", b"a\r\nSet-Cookie: 1"]]},
        {"type": "http.response.body", "body": b"no start"},
        {"type": "nonsense"},
    ],
)
async def test_bad_reply_500(start: dict[str, Any]) -> None:
    async def app(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send(start)
        await send({"type": "http.response.body", "body": b"x"})

    async with serve(app) as (iface, host, _):
        raw = await send_raw(port_of(iface), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(raw) == 500
        assert b"evil" not in raw
        assert b"Set-Cookie" not in raw
        assert host.counts["bad_reply"] == 1


async def test_body_longer_than_content_length_closes() -> None:
    async def app(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        headers = [[b"content-length", b"2"]]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"too long"})

    async with serve(app) as (iface, host, _):
        raw = await send_raw(port_of(iface), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"too long" not in raw
        assert host.counts["bad_reply"] == 1


async def test_slow_loris_header_timeout_408_others_served() -> None:
    async with serve(apps.echo, header_timeout=0.5) as (iface, host, _):
        port = port_of(iface)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await _ok(port)  # served while the slow client holds its connection
        writer.write(b"X-A: b\r\n")  # trickling bytes does not extend the deadline
        raw = await read_all(reader, 5)
        writer.close()
        assert status_of(raw) == 408
        assert host.counts["header_timeout"] == 1


async def test_idle_keep_alive_connection_is_closed() -> None:
    async with serve(apps.echo, keepalive_timeout=0.3) as (iface, _host, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(iface))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = await read_all(reader, 5)  # returns once the server closes the idle socket
        writer.close()
        assert [r.status for r in parse(raw)] == [200]


async def test_stalled_body_408() -> None:
    rec = apps.Recorder()
    async with serve(rec.never_answer, body_timeout=0.3) as (iface, host, _):
        raw = await send_raw(
            port_of(iface),
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 70_000,
        )
        assert status_of(raw) == 408
        assert host.counts["body_timeout"] == 1
        await asyncio.wait_for(rec.disconnected.wait(), 5)


async def test_connection_flood_over_limit_refused_others_served() -> None:
    async with serve(apps.echo, max_connections=3, header_timeout=30) as (iface, host, _):
        port = port_of(iface)
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        flood = await asyncio.gather(*(send_raw(port, b"") for _ in range(20)))
        assert {status_of(raw) for raw in flood} == {503}
        assert host.counts["connections_refused"] == 20
        # The held connections are still served.
        reader, writer = held[0]
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert [r.status for r in parse(await read_all(reader, 5))] == [200]
        for _, w in held:
            w.close()
        # Once they are gone, new clients are served again.
        await asyncio.wait_for(asyncio.gather(*(p.lost for p in iface.server.connections)), 5)
        await _ok(port)


async def test_large_response_to_a_reading_client_is_not_cut() -> None:
    """Backpressure, not a buffer limit: 13 MB reach a client that reads."""

    async def big(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(200):
            await send({"type": "http.response.body", "body": b"z" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async with serve(big, write_timeout=5) as (iface, host, _), httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{port_of(iface)}/")
        assert len(r.content) == 200 * 65536
        assert host.counts["slow_read"] == 0


async def test_slow_reader_is_aborted() -> None:
    async def big(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        if first["path"] == "/other":
            await apps.respond(send, 200, b"ok")
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(200):
            await send({"type": "http.response.body", "body": b"z" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async with serve(big, write_timeout=0.5) as (iface, host, _):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port_of(iface)))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # then never read
        await host.counted("slow_read", 10)
        sock.close()
        await _ok(port_of(iface))


async def test_client_gone_mid_response_consumer_told() -> None:
    rec = apps.Recorder()
    async with serve(rec.slow_stream) as (iface, _host, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(iface))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(rec.started.wait(), 5)
        assert b"first" in await asyncio.wait_for(reader.read(1000), 5)
        writer.close()
        await asyncio.wait_for(rec.disconnected.wait(), 5)
        assert rec.seen[-1] == {
            "type": "http.disconnect",
            "reply_channel": rec.seen[-1]["reply_channel"],
            "order": 1,
        }


async def test_access_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telephonist.access.http")
    async with serve(apps.echo) as (iface, _host, _):
        await send_raw(
            port_of(iface), b"GET /logged?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "telephonist.access.http"]
    assert line.startswith('127.0.0.1 "GET /logged?q=1 HTTP/1.1" 200 ')
    assert line.endswith("ms")


async def test_access_log_off() -> None:
    async with serve(apps.echo, access_log=False) as (iface, _host, _):
        logger = logging.getLogger("telephonist.access.http")
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        try:
            await send_raw(
                port_of(iface), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
        finally:
            logger.removeHandler(handler)
    assert records == []


async def test_shutdown_drains_request_in_flight() -> None:
    release, got = asyncio.Event(), asyncio.Event()

    async def slow(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        got.set()
        await release.wait()
        await apps.respond(send, 200, b"finished")

    async with serve(slow) as (iface, _host, _worker):
        port = port_of(iface)
        pending = asyncio.ensure_future(send_raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        await asyncio.wait_for(got.wait(), 5)
        stopping = asyncio.ensure_future(iface.stop(5))
        await asyncio.sleep(0)  # let stop() begin: no new work from here on
        try:
            late = await send_raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:  # refused or reset: the port is closed
            late = b""
        assert status_of(late) in (0, 503)
        release.set()
        await stopping
        (resp,) = parse(await pending)
        assert resp.status == 200
        assert resp.body == b"finished"
        assert resp.headers[b"connection"] == b"close"
