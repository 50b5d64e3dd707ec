"""Two ``telephonist serve`` processes, one Socket Mode link each, on one real Redis, with
a worker: Slack hands a retry to the other process, and it is acknowledged there but not
delivered again (the claim is shared through the layer). Tokens given through the
environment never show up in logs or ``telephonist status``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from telephonist.config.model import AffinitySettings, WorkerSettings
from telephonist.core.redis import RedisChannelLayer
from telephonist.routing import Router, route
from telephonist.testing.slack import SlackStandIn
from telephonist.worker import Worker
from tests.servers import RedisServer
from tests.slack.processes import TELEPHONIST, run_cli, started

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def env_for(slack: SlackStandIn, redis_server: RedisServer, prefix: str, status: Path
            ) -> dict[str, str]:  # fmt: skip
    return {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": json.dumps({"hosts": [redis_server.url], "prefix": prefix}),
        "TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN": slack.team.bot_token,
        "TELEPHONIST_INTERFACES__SLACK__APP_TOKEN": slack.app_token,
        "TELEPHONIST_INTERFACES__SLACK__API_URL": slack.api_url,
        "TELEPHONIST_STATUS__SOCKET_DIR": str(status),
    }


async def test_retries_across_two_interface_servers_are_delivered_once(
    slack: SlackStandIn, redis_server: RedisServer, tmp_path: Path
) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    prefix = "t" + secrets.token_hex(4)
    env = env_for(slack, redis_server, prefix, tmp_path / "status")
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def consume(message: Any) -> None:
        await got.put(dict(message.content))

    worker = Worker(layer, Router([route("slack.message", consume)]), WorkerSettings(),
                    AffinitySettings())  # fmt: skip
    await worker.start()
    try:
        await two_servers(slack, env, tmp_path, got, alice, general)
    finally:
        await worker.stop(drain_timeout=2.0)
        await layer.flush()
        await layer.close()


async def two_servers(
    slack: SlackStandIn, env: dict[str, str], tmp_path: Path,
    got: asyncio.Queue[dict[str, Any]], alice: Any, general: Any,
) -> None:  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for i in (1, 2):
            log = tmp_path / f"serve{i}.log"
            servers.append(
                await stack.enter_async_context(
                    started([*TELEPHONIST, "serve"], env=env, cwd=tmp_path, log=log)
                )
            )
        for server in servers:
            await server.wait_for(r"^telephonist: ready$")
        links = await slack.wait_connected(2, within=30)
        assert len(links) == 2

        count = 20
        slack.socket.ignore_acks = count  # every first ack is lost: each event is retried
        deliveries = [slack.message(f"m{i}", alice, general) for i in range(count)]
        for delivery in deliveries:
            await delivery.acked(within=30)
        received = [await asyncio.wait_for(got.get(), 30) for _ in range(count)]
        assert sorted(m["text"] for m in received) == sorted(f"m{i}" for i in range(count))
        for delivery in deliveries:
            assert len(delivery.attempts) == 2
            first, retry = delivery.attempts
            assert first.link != retry.link  # the retry went to the other process
            assert delivery.acked_on == retry.link
        assert got.empty()

        code, out, _ = await run_cli("status", "--json", env=env, cwd=tmp_path)
        assert code == 0, out
        hosts = [p for p in json.loads(out)["processes"] if p.get("kind") == "host"]
        assert len(hosts) == 2
        counters: dict[str, int] = {}
        for host in hosts:
            slack_part = host["interfaces"]["slack"]
            for name, value in slack_part["counters"].items():
                counters[name] = counters.get(name, 0) + value
            [link] = slack_part["status"]["socket_mode"]["links"]
            assert link["state"] == "open"
            assert link["last_hello"] is not None
        assert counters["received"] == count
        assert counters["duplicates"] == count
        for secret in (slack.team.bot_token, slack.app_token):
            assert secret not in out
    for server in servers:
        assert slack.team.bot_token not in server.output()
        assert slack.app_token not in server.output()
