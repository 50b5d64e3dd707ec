"""HTTP/2 with real clients: httpx (``http2=True``), curl and nghttp, over TLS (ALPN
``h2``) and cleartext (h2c by prior knowledge), on the same port as HTTP/1.1."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import ssl
from pathlib import Path
from typing import Any

import h2.events
import httpx
import pytest
import trustme

from tests.http import apps
from tests.http.h2client import Raw
from tests.http.harness import port_of, serve
from tests.servers import require_service


class Tls:
    def __init__(self, tmp: Path) -> None:
        self.ca = trustme.CA(key_type=trustme.KeyType.RSA)
        cert = self.ca.issue_cert("127.0.0.1")
        self.key, self.cert, self.ca_file = tmp / "key.pem", tmp / "cert.pem", tmp / "ca.pem"
        cert.private_key_pem.write_to_path(str(self.key))
        cert.cert_chain_pems[0].write_to_path(str(self.cert))
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.context = ssl.create_default_context()
        self.ca.configure_trust(self.context)

    @property
    def endpoint(self) -> str:
        return f"ssl:port=0:interface=127.0.0.1:privateKey={self.key}:certKey={self.cert}"


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return Tls(tmp_path)


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        require_service(f"{tool} (scripts/peers/web.sh installs it)")


async def run(*argv: str) -> tuple[int, str, str]:
    need(argv[0])
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_httpx_h2_over_tls_and_h1_beside_it(tls: Tls) -> None:
    async with serve(apps.echo, endpoints=[tls.endpoint]) as (iface, _probe, worker):
        url = f"https://127.0.0.1:{port_of(iface)}"
        async with httpx.AsyncClient(verify=tls.context, http2=True) as client:
            r = await client.get(f"{url}/two?x=1")
            assert r.http_version == "HTTP/2"
            assert r.status_code == 200
            seen = r.json()
            assert seen["http_version"] == "2"
            assert seen["scheme"] == "https"
            assert seen["path"] == "/two"
            assert seen["query_string"] == "x=1"
            assert ["host", f"127.0.0.1:{port_of(iface)}"] in seen["headers"]
            assert not any(name.startswith(":") for name, _ in seen["headers"])
            # A body bigger than a chunk and the stream window streams through.
            r = await client.post(f"{url}/up", content=b"x" * 300_000)
            assert r.json()["body_len"] == 300_000
            assert max(r.json()["chunks"]) <= 64 * 1024
            # Many streams at once on the one connection.
            answers = await asyncio.gather(*(client.get(f"{url}/n{i}") for i in range(50)))
            assert [a.json()["path"] for a in answers] == [f"/n{i}" for i in range(50)]
        async with httpx.AsyncClient(verify=tls.context) as client:  # ALPN falls back
            r = await client.get(f"{url}/one")
            assert r.http_version == "HTTP/1.1"
            assert r.json()["http_version"] == "1.1"
    assert len(worker.received) >= 53


async def test_httpx_h2c_prior_knowledge_and_errors_as_http1() -> None:
    async with serve(apps.echo, max_body_bytes=1000, max_header_bytes=1024) as (iface, probe, _w):
        url = f"http://127.0.0.1:{port_of(iface)}"
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            r = await client.get(f"{url}/clear")
            assert r.http_version == "HTTP/2"
            assert r.json()["http_version"] == "2"
            assert r.json()["scheme"] == "http"
            r = await client.post(f"{url}/big", content=b"x" * 2000)
            assert r.status_code == 413
            r = await client.get(f"{url}/h", headers={"x-big": "y" * 2000})
            assert r.status_code == 431
            # The connection serves on after both.
            r = await client.get(f"{url}/after")
            assert r.status_code == 200
        async with httpx.AsyncClient() as client:  # HTTP/1.1 on the same port
            r = await client.get(f"{url}/plain")
            assert r.http_version == "HTTP/1.1"
    assert probe.counts["body_too_large"] == 1
    assert probe.counts["headers_too_large"] == 1


async def test_504_and_503_answers() -> None:
    recorder = apps.Recorder()
    async with serve(recorder.never_answer, response_timeout=0.5) as (iface, _p, _w):
        url = f"http://127.0.0.1:{port_of(iface)}"
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            r = await client.get(f"{url}/slow")
            assert r.status_code == 504
            r = await client.get(f"{url}/other")
            assert r.status_code == 200
        await asyncio.wait_for(recorder.disconnected.wait(), 5)  # told, as on HTTP/1.1
    # No worker and room for one message: one stream waits (then 504), the other is 503.
    async with serve(apps.echo, run_worker=False, capacity=1, response_timeout=1.0) as (
        iface,
        probe,
        _w,
    ):
        url = f"http://127.0.0.1:{port_of(iface)}"
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            answers = await asyncio.gather(client.get(f"{url}/a"), client.get(f"{url}/b"))
    assert sorted(a.status_code for a in answers) == [503, 504]
    full = next(a for a in answers if a.status_code == 503)
    assert full.headers["retry-after"] == "5"
    assert probe.counts["channel_full"] == 1


async def test_curl_h2_tls_and_prior_knowledge(tls: Tls, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telephonist.access.http")
    async with (
        serve(apps.echo, endpoints=[tls.endpoint]) as (secure, _p1, _w1),
        serve(apps.echo) as (clear, _p2, _w2),
    ):
        code, out, err = await run(
            "curl", "-sS", "--http2", "--cacert", str(tls.ca_file),
            "-w", "\\n%{http_version}", f"https://127.0.0.1:{port_of(secure)}/curl",
        )  # fmt: skip
        assert code == 0, err
        body, _, version = out.rpartition("\n")
        assert version == "2"
        assert json.loads(body)["http_version"] == "2"
        code, out, err = await run(
            "curl", "-sS", "--http2-prior-knowledge", "-d", "hello",
            "-w", "\\n%{http_version}", f"http://127.0.0.1:{port_of(clear)}/pk",
        )  # fmt: skip
        assert code == 0, err
        body, _, version = out.rpartition("\n")
        assert version == "2"
        assert json.loads(body)["body_sample"] == "hello"
    lines = [r.getMessage() for r in caplog.records if r.name == "telephonist.access.http"]
    assert any('"GET /curl HTTP/2" 200' in line for line in lines)
    assert any('"POST /pk HTTP/2" 200' in line for line in lines)


async def test_nghttp(tls: Tls) -> None:
    async with (
        serve(apps.stream, endpoints=[tls.endpoint]) as (secure, _p1, _w1),
        serve(apps.stream) as (clear, _p2, _w2),
    ):
        for url in (
            f"https://127.0.0.1:{port_of(secure)}/stream?n=4",
            f"http://127.0.0.1:{port_of(clear)}/stream?n=4",
        ):
            code, out, err = await run("nghttp", "-n", "-s", url, url, url)
            assert code == 0, err
            code, out, err = await run("nghttp", url)
            assert code == 0, err
            assert out == "part0;part1;part2;part3;"


async def grpc_like(first: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with trailers when the scope offers them (as a gRPC server would)."""
    await apps.read_body(first, receive)
    offered = "http.response.trailers" in first.get("extensions", {})
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [[b"content-type", b"application/grpc"]],
            "trailers": offered,
        }
    )
    await send({"type": "http.response.body", "body": b"part1", "more_body": True})
    await send({"type": "http.response.body", "body": b"part2"})
    if offered:
        await send(
            {
                "type": "http.response.trailers",
                "headers": [[b"grpc-status", b"0"]],
                "more_trailers": True,
            }
        )
        await send({"type": "http.response.trailers", "headers": [["grpc-message", "ok"]]})


async def test_trailers_on_h2_and_none_on_h1() -> None:
    async with serve(grpc_like) as (iface, _probe, _w):
        port = port_of(iface)
        raw = await Raw.open(port)
        raw.request(1, "/svc/Method", te="trailers")
        raw.flush()
        trailers = await raw.until(h2.events.TrailersReceived)
        assert trailers.stream_id == 1
        assert trailers.headers == [(b"grpc-status", b"0"), (b"grpc-message", b"ok")]
        data = [e.data for e in raw.events if isinstance(e, h2.events.DataReceived)]
        assert b"".join(data) == b"part1part2"
        assert await raw.until(h2.events.StreamEnded) is not None
        await raw.close()
        async with httpx.AsyncClient() as client:  # no extension offered on HTTP/1.1
            r = await client.get(f"http://127.0.0.1:{port}/svc/Method")
            assert r.text == "part1part2"


async def test_shutdown_sends_goaway_and_finishes_streams_in_flight() -> None:
    """nghttp as the client (h2's own client state machine stops at a GOAWAY, so it
    could not see the rest of a stream the server still answers)."""
    gate = asyncio.Event()
    started = asyncio.Event()

    async def slow(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        started.set()
        await gate.wait()
        await apps.respond(send, 200, b"late but whole")

    async with serve(slow) as (iface, _probe, _w):
        url = f"http://127.0.0.1:{port_of(iface)}/slow"
        need("nghttp")
        proc = await asyncio.create_subprocess_exec(
            "nghttp", "-v", url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        try:
            await asyncio.wait_for(started.wait(), 10)
            stopping = asyncio.create_task(iface.stop(drain_timeout=10))
            seen = b""
            while b"recv GOAWAY" not in seen:  # bounded: each read by 10 s, EOF ends it
                line = await asyncio.wait_for(proc.stdout.readline(), 10)
                assert line, f"no GOAWAY before the end: {seen.decode()}"
                seen += line
            goaway = (seen + await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            gate.set()  # only now: the answer comes after the GOAWAY
            rest = (await asyncio.wait_for(proc.stdout.read(), 10)).decode()
            assert await asyncio.wait_for(proc.wait(), 10) == 0
            await asyncio.wait_for(stopping, 10)  # the connection closed, so stop is done
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert "error_code=NO_ERROR" in goaway
    assert "last_stream_id=1" in goaway
    assert "late but whole" in rest
