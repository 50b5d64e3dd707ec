"""Two ``telephonist serve`` processes running Slack for one workspace on one real Redis,
and a worker with a ``ChatBridge`` linking ``#random`` to ``#general``: every line
relayed to ``#general`` is posted there once, in order and paced, not once per server;
and when the server posting the workspace's rooms is killed (SIGKILL), the next line is
still posted, once, by the other.

The stand-in's own log of ``chat.postMessage`` calls is what is asserted on."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from telephonist.config.model import AffinitySettings, WorkerSettings
from telephonist.consumers import ChatBridge
from telephonist.consumers.bridge_links import Links
from telephonist.core.redis import RedisChannelLayer
from telephonist.routing import Router, route_class
from telephonist.testing.slack import SlackStandIn
from telephonist.testing.slack.server import ApiCall
from telephonist.testing.slack.state import Channel
from telephonist.worker import Worker
from tests.servers import RedisServer
from tests.slack.processes import TELEPHONIST, AsyncProcess, run_cli, started
from tests.slack.test_split_redis import env_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LEASE = 2.0  # seconds: a dead poster is replaced within about this
PACE = 0.3  # seconds between posts in one channel


class Bridge(ChatBridge):
    links = {"lobby": ["slack:#general", "slack:#random"]}
    open_rooms = False


async def until(predicate: Callable[[], Any], within: float = 30.0) -> Any:
    """Wait (bounded) until ``predicate()`` is truthy: for state that signals nothing
    (the layer's group, the stand-in's log read by ``posts``)."""
    async with asyncio.timeout(within):
        while not (value := predicate()):  # noqa: ASYNC110 (nothing to wait on instead)
            await asyncio.sleep(0.02)
    return value


def posts(slack: SlackStandIn, channel: Channel) -> list[ApiCall]:
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == channel.id]


def texts(slack: SlackStandIn, channel: Channel) -> list[str]:
    return [str(c.params.get("text", "")) for c in posts(slack, channel)]


async def hosts(env: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    code, out, err = await run_cli("status", "--json", env=env, cwd=cwd)
    assert code == 0, out + err
    return [p for p in json.loads(out)["processes"] if p.get("kind") == "host"]


async def poster_pid(env: dict[str, str], cwd: Path, team: str, within: float = 30.0) -> int:
    """The pid of the one server that says it serves ``team``'s rooms."""
    async with asyncio.timeout(within):
        while True:
            serving = [
                h["pid"]
                for h in await hosts(env, cwd)
                if team in (h["interfaces"]["slack"]["status"]["shared_rooms"] or {})["serving"]
            ]
            if len(serving) == 1:
                return int(serving[0])
            await asyncio.sleep(0.2)  # the status is asked for: it signals nothing


async def outboxes_idle(env: dict[str, str], cwd: Path, within: float = 30.0) -> None:
    """Every live server's Web API queue is empty: nothing more is about to be posted."""
    async with asyncio.timeout(within):
        while True:
            busy = [
                team
                for h in await hosts(env, cwd)
                for team, w in h["interfaces"]["slack"]["status"]["workspaces"].items()
                if w.get("outbox", {}).get("queued") or w.get("outbox", {}).get("running")
            ]
            if not busy:
                return
            await asyncio.sleep(0.1)  # the status is asked for: it signals nothing


async def test_relayed_lines_are_posted_once_and_survive_the_poster(
    slack: SlackStandIn, redis_server: RedisServer, tmp_path: Path
) -> None:
    alice = slack.add_user("alice")
    general, random = slack.add_channel("general"), slack.add_channel("random")
    prefix = "t" + secrets.token_hex(4)
    env = {
        **env_for(slack, redis_server, prefix, tmp_path / "status"),
        "TELEPHONIST_INTERFACES__SLACK__POSTER_LEASE": str(LEASE),
        "TELEPHONIST_INTERFACES__SLACK__POST_INTERVAL": str(PACE),
    }
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix)
    Bridge._setup.pop(Bridge, None)
    worker = Worker(layer, Router([route_class(Bridge)]), WorkerSettings(), AffinitySettings())
    await worker.start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            servers: list[AsyncProcess] = []
            for i in (1, 2):
                command = [*TELEPHONIST, "serve"]
                log = tmp_path / f"serve{i}.log"
                process = started(command, env=env, cwd=tmp_path, log=log)
                servers.append(await stack.enter_async_context(process))
            for server in servers:
                await server.wait_for(r"^telephonist: ready$")
            await slack.wait_connected(2, within=30)
            # Both servers announced the bot's channels; the bridge put #general's reply
            # channel in the room's group: one member, whichever server announced.
            group = Links.group("lobby", 1)
            members: list[str] = []

            async def joined() -> bool:
                members[:] = await layer.group_channels(group)
                return bool(members)

            async with asyncio.timeout(30):
                while not await joined():  # noqa: ASYNC110 (the group signals nothing)
                    await asyncio.sleep(0.05)
            assert members == [f"slack-room.{slack.team.id}.{general.id}"]

            await relay_once(slack, alice, general, random, env, tmp_path)
            await survive_the_poster(slack, alice, general, random, env, tmp_path, servers)
    finally:
        await worker.stop(drain_timeout=2.0)
        await layer.flush()
        await layer.close()


async def relay_once(
    slack: SlackStandIn, alice: Any, general: Channel, random: Channel,
    env: dict[str, str], cwd: Path,
) -> None:  # fmt: skip
    lines = [f"line {i}" for i in range(6)]
    said = []
    for line in lines:
        delivery = slack.message(line, alice, random)
        await delivery.acked(within=30)
        said.append(delivery.payload["event"]["ts"])
    # An edit and a reaction reach #general through the same group (as sentences: the
    # bridge knows no id of these lines there).
    await slack.edit(said[0], "line 0, fixed", random).acked(within=30)
    await slack.reaction("+1", alice, random, said[1]).acked(within=30)
    changes = ["→ line 0, fixed", "reacted 👍"]
    await until(lambda: all(any(c in t for t in texts(slack, general)) for c in changes))
    await outboxes_idle(env, cwd)
    got = texts(slack, general)
    for line in lines:
        assert sum(t.endswith(f"&gt; {line}") for t in got) == 1, got
    for change in changes:
        assert sum(change in t for t in got) == 1, got
    assert len(got) == len(lines) + len(changes), got
    # In the order they were said, and paced: one poster made every post of the channel.
    assert [t.rpartition("&gt; ")[2] for t in got[: len(lines)]] == lines, got
    at = [c.at for c in posts(slack, general)]
    assert all(b - a >= PACE * 0.9 for a, b in itertools.pairwise(at)), at


async def survive_the_poster(
    slack: SlackStandIn, alice: Any, general: Channel, random: Channel,
    env: dict[str, str], cwd: Path, servers: list[AsyncProcess],
) -> None:  # fmt: skip
    pid = await poster_pid(env, cwd, slack.team.id)
    [poster] = [s for s in servers if s.process.pid == pid]
    [other] = [s for s in servers if s is not poster]
    await asyncio.to_thread(poster.process.kill)  # SIGKILL: no goodbye, the lease just lapses
    before = len(posts(slack, general))
    await slack.message("after the kill", alice, random).acked(within=30)
    await until(lambda: any("after the kill" in t for t in texts(slack, general)), within=30)
    assert await poster_pid(env, cwd, slack.team.id) == other.process.pid
    await outboxes_idle(env, cwd)
    got = texts(slack, general)
    assert sum("after the kill" in t for t in got) == 1, got
    assert len(got) == before + 1, got
