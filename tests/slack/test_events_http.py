"""The Events API on the HTTP interface's port: ``telephonist run`` with the ``http`` and
``slack`` interfaces together, the stand-in posting signed requests (and forged, stale,
tampered and unsigned ones) with a real HTTP client, as Slack posts to a Request URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telephonist.interfaces.mounts import mounted_paths
from telephonist.server import StartupError
from telephonist.testing.slack import ApiCall, SlackStandIn
from tests.slack.processes import TELEPHONIST, AsyncProcess, run_cli, started
from tests.slack.stack import config_for, running_stack

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

TOML = """\
routing = "tests.slack.httpapp.routes"

[layer]
BACKEND = "memory"
CONFIG = {channel_capacity = {"slack.message" = 1}}

[worker]
concurrency = 1

[interfaces.http]
endpoints = ["tcp:port=0:interface=127.0.0.1"]

[interfaces.slack]
post_interval = 0.0
max_payload_bytes = 4096
"""


class Gate:
    """A loopback port the ``hold`` consumer connects to and waits on for one byte."""

    def __init__(self) -> None:
        self.waiting: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()
        self.port = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.waiting.put(writer)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Gate]:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self

    async def held(self) -> asyncio.StreamWriter:
        async with asyncio.timeout(30):
            return await self.waiting.get()


def env_for(slack: SlackStandIn, gate: Gate, tmp_path: Path) -> dict[str, str]:
    return {
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN": slack.team.bot_token,
        "TELEPHONIST_INTERFACES__SLACK__SIGNING_SECRET": slack.signing_secret,
        "TELEPHONIST_INTERFACES__SLACK__API_URL": slack.api_url,
        "TELEPHONIST_STATUS__SOCKET_DIR": str(tmp_path / "status"),
        "SLACK_TEST_GATE": str(gate.port),
    }


async def http_port(server: AsyncProcess) -> int:
    found = await server.wait_for(r"^interface http: http://127\.0\.0\.1:(\d+)")
    await server.wait_for(r"^telephonist: ready$")
    return int(found.group(1))


def replies_to(slack: SlackStandIn, text: str) -> list[ApiCall]:
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("text") == f"got {text}"]


async def test_events_api_through_telephonist_run(slack: SlackStandIn, tmp_path: Path) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    (tmp_path / "telephonist.toml").write_text(TOML)
    async with Gate().serving() as gate:
        env = env_for(slack, gate, tmp_path)
        command = [*TELEPHONIST, "run"]
        async with started(command, env=env, cwd=tmp_path, log=tmp_path / "run.log") as server:
            url = f"http://127.0.0.1:{await http_port(server)}/slack/events"
            await exercise(slack, gate, url, alice, general)
            code, out, _ = await run_cli("status", "--json", env=env, cwd=tmp_path)
        assert code == 0, out
        [host] = [p for p in json.loads(out)["processes"] if p.get("kind") == "host"]
        counters = host["interfaces"]["slack"]["counters"]
        assert host["interfaces"]["http"]["status"]["mounted_paths"] == ["/slack/events"]
        assert (counters["signature_bad"], counters["signature_stale"]) == (2, 1)
        assert counters["signature_missing"] == 1
        assert counters["url_verifications"] == 1
        assert counters["refused_full"] == 1
        assert counters["refused_too_large"] == 2
        assert counters["received"] == 5  # once each: m1, hold, queued, refused, last
        assert counters["duplicates"] == 2
        assert slack.signing_secret not in out
        assert slack.signing_secret not in server.output()


async def exercise(slack: SlackStandIn, gate: Gate, url: str, alice: Any, general: Any) -> None:
    status, body = await slack.post(url, {"type": "url_verification", "challenge": "c-7"})
    assert (status, json.loads(body)) == (200, {"challenge": "c-7"})

    def event(text: str) -> dict[str, Any]:
        return slack.event_callback(slack.message_event(text, alice, general))

    evil = event("evil")
    for tamper in ("forged", "stale", "tampered", "unsigned"):
        assert (await slack.post(url, evil, tamper=tamper))[0] == 401, tamper

    # Delivered, and Slack's retry of it is acknowledged but not delivered again.
    m1 = event("m1")
    assert await slack.post(url, m1) == (200, b"")
    await slack.wait_for_call("chat.postMessage", lambda c: c.params["text"] == "got m1")
    assert (await slack.post(url, m1, retry_num=1, retry_reason="http_timeout"))[0] == 200

    # The worker busy with "hold", "queued" fills slack.message: "refused" gets a 503, so
    # Slack keeps it and tries again; the retry, once there is room, is delivered once.
    assert (await slack.post(url, event("hold")))[0] == 200
    held = await gate.held()
    assert (await slack.post(url, event("queued")))[0] == 200
    refused = event("refused")
    assert (await slack.post(url, refused))[0] == 503
    held.write(b"!")
    await slack.wait_for_call("chat.postMessage", lambda c: c.params["text"] == "got queued")
    assert (await slack.post(url, refused, retry_num=1, retry_reason="http_error"))[0] == 200
    await slack.wait_for_call("chat.postMessage", lambda c: c.params["text"] == "got refused")
    assert (await slack.post(url, refused, retry_num=2, retry_reason="http_error"))[0] == 200
    assert (await slack.post(url, event("last")))[0] == 200
    await slack.wait_for_call("chat.postMessage", lambda c: c.params["text"] == "got last")
    for text in ("m1", "hold", "queued", "refused", "last"):
        assert len(replies_to(slack, text)) == 1, text
    assert replies_to(slack, "evil") == []

    # Slack's payload limit (max_payload_bytes = 4096), declared and streamed: 413. Over a
    # raw socket: the answer comes before the body is read, and a client still sending
    # then may see the connection reset before it reads the 413 (httpx does).
    headers, big = slack.http_request(event("x" * 5000))
    port = int(url.split(":")[2].split("/")[0])
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    declared = f"POST /slack/events HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(big)}\r\n\r\n"
    assert await raw_status(port, declared.encode()) == 413
    chunked = f"POST /slack/events HTTP/1.1\r\nHost: x\r\n{head}Transfer-Encoding: chunked\r\n\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(big[i : i + 1000]), big[i : i + 1000])
                    for i in range(0, 5000, 1000))  # fmt: skip
    assert await raw_status(port, chunked.encode() + body) == 413
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(url)).status_code == 405


async def raw_status(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            line = await reader.readline()
    finally:
        writer.close()
    return int(line.split()[1])


async def test_events_path_is_mounted_while_the_interface_runs(slack: SlackStandIn) -> None:
    config = config_for(slack, app_token=None, events_path="/hooks/slack")
    async with running_stack(config):
        assert "/hooks/slack" in mounted_paths()
        with pytest.raises(StartupError, match="already mounted"):
            async with running_stack(config):
                pass
        assert "/hooks/slack" in mounted_paths()  # the failed start left the first alone
    assert "/hooks/slack" not in mounted_paths()
