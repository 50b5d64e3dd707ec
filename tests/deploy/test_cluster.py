"""docs/deploy.md "Redis Cluster": the page's ``cluster.toml`` in place of the
``[layer]`` table, its ACL user added to every node of the session's private
three-node cluster (``tests/conftest.py``), ``telephonist serve`` and a worker: HTTP
and a WebSocket served across them and ``telephonist status`` shows both, all as that
user (who did not exist before: a wrong ACL line fails the login)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.servers import RedisServer

from .page import Machine, files
from .procs import Procs, stop_within
from .stack import http_endpoint, install_app, start_telephonist, status, websocket, with_layer

pytestmark = [pytest.mark.redis]


def test_serve_and_worker_on_redis_cluster(
    redis_cluster: list[RedisServer], machines_root: Path, procs: Procs
) -> None:
    (acl,) = files()["/etc/redis/users.acl"].strip().splitlines()
    kind, user, *rules = acl.split()
    assert kind == "user"
    for node in redis_cluster:
        node.cli("ACL", "SETUSER", user, "reset", *rules)  # as loaded from the ACL file
    web = Machine(
        "web1",
        machines_root / "web1",
        "127.0.0.1",
        "127.0.0.",
        replacements=[
            *(
                (f"10.0.0.{31 + i}:6379", f"127.0.0.1:{n.port}")
                for i, n in enumerate(redis_cluster)
            ),
            ("port=8000", "port=0"),
        ],
    )
    toml = with_layer("cluster.toml")
    assert "cluster = true" in toml
    install_app(web, toml)
    serve = start_telephonist(procs, web, "telephonist serve", "serve")
    worker = start_telephonist(procs, web, "telephonist worker", "worker")
    host, port = http_endpoint(serve)

    answer = httpx.get(f"http://{host}:{port}/whoami", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["worker"] == worker.pid
    with websocket(f"ws://{host}:{port}/ws", None, "127.0.0.1") as ws:
        assert json.loads(ws.recv(timeout=10))["worker"] == worker.pid
        ws.send("over the cluster")
        assert ws.recv(timeout=10) == "over the cluster"
        # Both processes answer status through the cluster, with the socket bound.
        shown = status(web)
        assert re.search(rf"^host srv\.\S+ \(pid {serve.pid} on ", shown, re.M), shown
        assert re.search(rf"^worker worker\.\S+ \(pid {worker.pid} on ", shown, re.M), shown

    stop_within(worker, 20)
    stop_within(serve, 20)
