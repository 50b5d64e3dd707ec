from __future__ import annotations

from typing import Any

import httpx

from tests.http.harness import port_of, serve


async def echo(first: dict[str, Any], receive: Any, send: Any) -> None:
    message = await receive()
    body = message["body"]
    while message.get("more_body"):
        message = await receive()
        body += message["body"]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [[b"content-type", b"text/plain"]],
        }
    )
    text = f"{first['method']} {first['path']} {len(body)}".encode()
    await send({"type": "http.response.body", "body": text})


async def test_get_and_post() -> None:
    async with serve(echo) as (iface, _host, _worker):
        port = port_of(iface)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            r = await client.get("/hello?x=1")
            assert r.status_code == 200
            assert r.text == "GET /hello 0"
            r = await client.post("/up", content=b"x" * 200_000)
            assert r.text == "POST /up 200000"
