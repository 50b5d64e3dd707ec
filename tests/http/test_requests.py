"""Requests become ASGI ``http.request`` messages; responses stream back. Real clients
(httpx, curl, raw sockets) over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
from pathlib import Path
from typing import Any

import httpx
import trustme

from tests.http import apps
from tests.http.clients import parse, send_raw
from tests.http.harness import port_of, serve
from tests.servers import require_service


async def test_scope_keys_and_types() -> None:
    async with serve(apps.echo) as (iface, _host, worker):
        port = port_of(iface)
        async with httpx.AsyncClient() as client:
            r = await client.get(
                f"http://127.0.0.1:{port}/a%20b/c?x=1&y=%20", headers={"X-Test": "1"}
            )
        assert r.status_code == 200
        scope = r.json()
        first = worker.received[0]
    assert first["type"] == "http.request"
    assert first["method"] == "GET"
    assert first["http_version"] == "1.1"
    assert first["scheme"] == "http"
    assert first["path"] == "/a b/c"
    assert first["raw_path"] == b"/a%20b/c"
    assert first["query_string"] == b"x=1&y=%20"
    assert first["root_path"] == ""
    assert first["client"][0] == "127.0.0.1"
    assert isinstance(first["client"][1], int)
    assert first["server"] == ["127.0.0.1", port]
    assert [b"x-test", b"1"] in first["headers"]
    assert all(isinstance(n, bytes) and n == n.lower() for n, _ in first["headers"])
    assert first["body"] == b""
    assert first["more_body"] is False
    assert first["order"] == 0
    assert "!" in first["reply_channel"]
    assert scope["path"] == "/a b/c"
    assert r.headers["date"]


async def test_root_path_is_prefixed() -> None:
    async with (
        serve(apps.echo, root_path="/app") as (iface, _host, _worker),
        httpx.AsyncClient() as client,
    ):
        r = await client.get(f"http://127.0.0.1:{port_of(iface)}/x")
    assert r.json()["root_path"] == "/app"
    assert r.json()["path"] == "/app/x"


async def test_body_streams_in_bounded_chunks() -> None:
    async with (
        serve(apps.echo, body_chunk_bytes=1024) as (iface, _host, worker),
        httpx.AsyncClient() as client,
    ):
        r = await client.post(f"http://127.0.0.1:{port_of(iface)}/up", content=b"z" * 10_000)
        small = await client.post(f"http://127.0.0.1:{port_of(iface)}/up", content=b"z" * 1000)
    facts = r.json()
    assert facts["body_len"] == 10_000
    assert all(size <= 1024 for size in facts["chunks"])
    assert sum(facts["chunks"]) == 10_000
    # Continuation chunks repeat the routing keys and keep the connection's order.
    chunks = [
        m for m in worker.received if m["reply_channel"] == worker.received[0]["reply_channel"]
    ]
    assert [m["order"] for m in chunks] == list(range(len(chunks)))
    assert all(m["path"] == "/up" and m["method"] == "POST" for m in chunks)
    assert "headers" not in chunks[1]
    # A small declared body arrives in the first message, whole.
    assert small.json()["chunks"] == [1000]


async def test_a_request_in_one_message_goes_without_affinity() -> None:
    """A request whose body came with its head is a single-event connection for the
    host (no bind, no release on the layer); one with more body chunks keeps affinity."""
    async with (
        serve(apps.echo, body_chunk_bytes=1024) as (iface, host, worker),
        httpx.AsyncClient() as client,
    ):
        base = f"http://127.0.0.1:{port_of(iface)}"
        assert (await client.get(f"{base}/one")).status_code == 200
        assert (await client.post(f"{base}/one", content=b"z" * 1000)).status_code == 200
        assert host.server.counters["detached"] == 2
        r = await client.post(f"{base}/up", content=b"z" * 10_000)
        assert len(r.json()["chunks"]) > 1
        assert host.server.counters["detached"] == 2
    assert all(not any(key.startswith("telephonist.") for key in m) for m in worker.received)


async def test_chunked_request_body() -> None:
    async def gen() -> Any:
        for _ in range(5):
            yield b"y" * 3000

    async with (
        serve(apps.echo, body_chunk_bytes=2048) as (iface, _host, _worker),
        httpx.AsyncClient() as client,
    ):
        r = await client.post(f"http://127.0.0.1:{port_of(iface)}/", content=gen())
    assert r.json()["body_len"] == 15_000
    assert max(r.json()["chunks"]) <= 2048


async def test_streamed_response_is_chunked_and_head_has_no_body() -> None:
    async with serve(apps.stream) as (iface, _host, _worker):
        port = port_of(iface)
        raw = await send_raw(
            port,
            b"GET /s?n=4 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /s?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    assert b"transfer-encoding: chunked" in raw.lower()
    first, head = parse(raw, [b"GET", b"HEAD"])
    assert first.body == b"part0;part1;part2;part3;"
    assert head.status == 200
    assert head.body == b""


async def test_http10_response_is_close_delimited() -> None:
    async with serve(apps.stream) as (iface, _host, _worker):
        raw = await send_raw(port_of(iface), b"GET /s?n=2 HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200")
    assert b"chunked" not in raw.lower()
    assert raw.endswith(b"part0;part1;")


async def test_keep_alive_and_pipelining_keep_order() -> None:
    async def slow_first(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        if first["path"] == "/1":
            await asyncio.sleep(0.05)  # the app is slow; order must still hold
        await apps.respond(send, 200, first["path"].encode())

    last = {3: "Connection: close"}
    requests = b"".join(
        f"GET /{i} HTTP/1.1\r\nHost: x\r\n{last.get(i, 'X: y')}\r\n\r\n".encode() for i in (1, 2, 3)
    )
    async with serve(slow_first) as (iface, _host, _worker):
        raw = await send_raw(port_of(iface), requests)
    assert [r.body for r in parse(raw)] == [b"/1", b"/2", b"/3"]


async def test_expect_100_continue_with_curl(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        require_service("curl (scripts/peers/web.sh installs it)")
        return
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"q" * 50_000)
    async with serve(apps.echo) as (iface, _host, _worker):
        proc = await asyncio.create_subprocess_exec(
            curl,
            "-sS",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            f"@{payload}",
            f"http://127.0.0.1:{port_of(iface)}/c",
            "-w",
            "\n%{http_code}",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    body, _, code = out.decode().rpartition("\n")
    assert code == "200"
    assert json.loads(body)["body_len"] == 50_000


async def test_unix_socket_endpoint(tmp_path: Path) -> None:
    sock = tmp_path / "web.sock"
    async with serve(apps.echo, endpoints=[f"unix:{sock}"]) as (_iface, _host, worker):
        transport = httpx.AsyncHTTPTransport(uds=str(sock))
        async with httpx.AsyncClient(transport=transport) as client:
            r = await client.get("http://localhost/u")
    assert r.status_code == 200
    assert worker.received[0]["client"] is None
    assert worker.received[0]["server"][0] == str(sock)


async def test_tls_endpoint(tmp_path: Path) -> None:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    cert = ca.issue_cert("127.0.0.1")
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    endpoint = f"ssl:port=0:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}"
    async with (
        serve(apps.echo, endpoints=[endpoint]) as (iface, _host, worker),
        httpx.AsyncClient(verify=context) as client,
    ):
        r = await client.get(f"https://127.0.0.1:{port_of(iface)}/secure")
    assert r.status_code == 200
    assert worker.received[0]["scheme"] == "https"


async def test_proxy_headers_only_from_trusted_peers() -> None:
    forwarded = {
        "X-Forwarded-For": "6.6.6.6, 203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "example.com",
        "X-Forwarded-Prefix": "/shop",
    }
    async with (
        serve(apps.echo, trusted_proxies=["127.0.0.0/8"]) as (trusted, _h1, w1),
        serve(apps.echo) as (untrusted, _h2, w2),
        httpx.AsyncClient() as client,
    ):
        await client.get(f"http://127.0.0.1:{port_of(trusted)}/p", headers=forwarded)
        await client.get(f"http://127.0.0.1:{port_of(untrusted)}/p", headers=forwarded)
    believed, ignored = w1.received[0], w2.received[0]
    assert believed["client"] == ["203.0.113.7", 0]
    assert believed["scheme"] == "https"
    assert believed["root_path"] == "/shop"
    assert believed["path"] == "/shop/p"
    assert [b"host", b"example.com"] in believed["headers"]
    assert ignored["client"][0] == "127.0.0.1"
    assert ignored["scheme"] == "http"
    assert ignored["root_path"] == ""
    assert ignored["path"] == "/p"
