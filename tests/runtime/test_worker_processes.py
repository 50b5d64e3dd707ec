"""``telephonist worker --only/--exclude`` as real processes over a real Redis server:
each worker takes only the shared channels its globs select."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable

import pytest

from telephonist.core.redis.layer import RedisChannelLayer
from tests.servers import RedisServer

from .conftest import ChatClient, Project, Spawn, run_cli

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROUTING = """
import os

from chatapp import routes as chat_routes
from telephonist.routing import route


def alpha(message):
    print(f"alpha {message['n']} pid={os.getpid()}", flush=True)


def beta(message):
    print(f"beta {message['n']} pid={os.getpid()}", flush=True)


routes = [route("alpha.one", alpha), route("beta.two", beta), *chat_routes]
"""


@pytest.fixture
def redis_config(redis_server: RedisServer) -> tuple[dict[str, str], dict[str, str]]:
    prefix = "w" + secrets.token_hex(4)
    env = {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": f'{{"hosts": ["{redis_server.url}"], "prefix": "{prefix}"}}',
    }
    return env, {"hosts": [redis_server.url], "prefix": prefix}  # type: ignore[dict-item]


async def _send(options: dict[str, object], messages: list[tuple[str, dict[str, object]]]) -> None:
    layer = RedisChannelLayer(**options)  # type: ignore[arg-type]
    try:
        for channel, message in messages:
            await layer.send(channel, message)
    finally:
        await layer.close()


def test_only_and_exclude_split_the_channels_between_workers(
    project: Project,
    spawn: Spawn,
    redis_config: tuple[dict[str, str], dict[str, object]],
    clients: Callable[[int], ChatClient],
) -> None:
    env, options = redis_config
    project.write("multi.py", ROUTING)
    alpha = spawn("worker", "--routing", "multi.routes", "--only", "alpha.*", env=env).ready()
    rest = spawn("worker", "--routing", "multi.routes", "--exclude", "alpha.*", env=env).ready()
    assert re.search(r"^worker worker\.\S+: alpha\.one$", "\n".join(alpha.seen), re.M)
    listed = next(line for line in rest.seen if line.startswith("worker "))
    assert "alpha.one" not in listed
    assert "beta.two" in listed
    assert "linechat.connect" in listed

    asyncio.run(
        _send(options, [("beta.two", {"type": "b", "n": 1}), ("alpha.one", {"type": "a", "n": 2})])
    )
    assert alpha.wait_for(r"^alpha 2 pid=\d+$").group(0) == f"alpha 2 pid={alpha.popen.pid}"
    assert rest.wait_for(r"^beta 1 pid=\d+$").group(0) == f"beta 1 pid={rest.popen.pid}"

    # linechat connections can only be taken by the worker that listens on linechat.*
    server = spawn("serve", env=env).ready()
    client = clients(server.endpoint())
    assert client.line().endswith(f"pid={rest.popen.pid}")


def test_a_worker_whose_globs_leave_nothing_refuses_to_start(project: Project) -> None:
    done = run_cli(project, "worker", "--only", "nothing.*")
    assert done.returncode == 1
    assert "no channel to listen on" in done.stderr
