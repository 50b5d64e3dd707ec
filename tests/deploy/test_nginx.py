"""docs/deploy.md "nginx in front": Debian's nginx with the page's site file, on
loopback, in front of ``telephonist serve`` and a worker over Redis (all from the
page's files). The client comes from 127.0.0.2, an address that is neither nginx's nor
trusted, so what the consumer reports as the client can only have come through the
proxy headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from telephonist.testing.processes import free_port

from .nginx import start_nginx, stop_nginx, trust_and_certificate
from .page import Machine
from .procs import Procs, stop_within
from .stack import SITE, http_client, install_app, start_redis, start_telephonist, websocket

pytestmark = [pytest.mark.redis]

CLIENT = "127.0.0.2"
FORGED = "203.0.113.66"


def test_nginx_terminates_tls_passes_websockets_and_the_client_address(
    machines_root: Path, procs: Procs
) -> None:
    redis_port, app_port, http_port, https_port = (free_port() for _ in range(4))
    # Free ports where the page's would collide with other users of this loopback.
    web = Machine(
        "web1",
        machines_root / "web1",
        "127.0.0.1",
        "127.0.0.",
        replacements=[
            ("bind 10.0.0.5", "bind 127.0.0.1"),
            ("port 6379", f"port {redis_port}"),
            ("10.0.0.5:6379", f"127.0.0.1:{redis_port}"),
            ("port=8000", f"port={app_port}"),
            ("127.0.0.1:8000", f"127.0.0.1:{app_port}"),
            ("listen 80;", f"listen 127.0.0.1:{http_port};"),
            ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ],
    )
    install_app(web)
    start_redis(procs, web, "/etc/redis/telephonist.conf")
    serve = start_telephonist(procs, web, "telephonist serve", "serve")
    worker = start_telephonist(procs, web, "telephonist worker", "worker")
    ca = trust_and_certificate(web, names=["chat.example.org", "127.0.0.1"])
    site = web.install(SITE)
    nginx = start_nginx(procs, web, site, [("127.0.0.1", http_port), ("127.0.0.1", https_port)])

    with http_client(ca, CLIENT) as http:
        plain = http.get(
            f"http://127.0.0.1:{http_port}/whoami", headers={"Host": "chat.example.org"}
        )
        assert plain.status_code == 301
        assert plain.headers["location"] == "https://chat.example.org/whoami"

        # A client that sends its own X-Forwarded-For: nginx appends the address it
        # saw, and the application takes the rightmost address it does not trust.
        answer = http.get(
            f"https://127.0.0.1:{https_port}/whoami",
            headers={"Host": "chat.example.org", "X-Forwarded-For": FORGED},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "client": CLIENT,
            "scheme": "https",
            "host": "chat.example.org",
            "worker": worker.pid,
        }

        # Around nginx, straight to Telephonist: 127.0.0.2 is no trusted proxy, so its
        # headers change nothing.
        direct = http.get(
            f"http://127.0.0.1:{app_port}/whoami",
            headers={"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"},
        )
        assert (direct.json()["client"], direct.json()["scheme"]) == (CLIENT, "http")

    with websocket(
        f"wss://127.0.0.1:{https_port}/ws", ca, CLIENT, headers={"X-Forwarded-For": FORGED}
    ) as ws:
        facts = json.loads(ws.recv(timeout=10))
        assert (facts["client"], facts["scheme"], facts["worker"]) == (CLIENT, "wss", worker.pid)
        ws.send("through nginx")
        assert ws.recv(timeout=10) == "through nginx"

    # The origins the page allows are checked behind the proxy too.
    with pytest.raises(InvalidStatus) as refused:
        websocket(f"wss://127.0.0.1:{https_port}/ws", ca, CLIENT, origin="https://evil.example")
    assert refused.value.response.status_code == 403

    stop_nginx(nginx)
    stop_within(serve, 20)
    stop_within(worker, 20)
    # The access log names the client too, never nginx.
    log = serve.errors()
    assert f'{CLIENT} "GET /whoami HTTP/1.1" 200' in log, log
    assert '127.0.0.1 "GET /whoami' not in log, log
