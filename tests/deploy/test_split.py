"""docs/deploy.md "Running the processes": the page's ``split`` commands, each on its
machine (a network namespace of its own, or a loopback address where namespaces are
refused), with nginx in front on web1. A client elsewhere on the network reaches the
application through nginx and is seen with its own address; connections spread over
both workers; ``telephonist status`` on web1 shows every process."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest

from .network import Network
from .nginx import start_nginx, stop_nginx, trust_and_certificate
from .page import transcript
from .procs import Procs, stop_within
from .stack import (
    SITE,
    front_ports,
    http_client,
    install_app,
    run_page_commands,
    status,
    websocket,
)

pytestmark = [pytest.mark.redis]

MACHINES = {"redis1": 5, "web1": 10, "work1": 21, "work2": 22}
MAX_CONNECTIONS = 20  # bound on the connections opened to see both workers answer


def test_split_deployment_over_machines(machines_root: Path, procs: Procs) -> None:
    with Network.create(machines_root) as network:
        machines = {name: network.add(name, octet) for name, octet in MACHINES.items()}
        web = machines["web1"]
        http_port, https_port = front_ports(network, web)
        for name in ("web1", "work1", "work2"):
            install_app(machines[name])
        started, later = run_page_commands(procs, machines, "split")
        (serve,) = started["serve"]
        workers = started["worker"]
        assert len(workers) == 2
        ca = trust_and_certificate(web, names=["chat.example.org", web.address])
        nginx = start_nginx(
            procs, web, web.install(SITE), [(web.address, http_port), (web.address, https_port)]
        )
        client = network.client_address
        base = f"https://{web.address}:{https_port}"

        with http_client(ca, client) as http:
            answer = http.get(f"{base}/whoami", headers={"Host": "chat.example.org"})
            assert answer.status_code == 200, answer.text
            facts = answer.json()
            assert (facts["client"], facts["scheme"]) == (client, "https")
            assert facts["worker"] in {w.pid for w in workers}

        # The page's check from outside, with curl: its options only say where
        # chat.example.org is, which CA to trust and which address to come from.
        ((_, command, printed),) = transcript("outside")
        ca_file = machines_root / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        where = f"chat.example.org:443:{web.address}:{https_port}"
        options = ["--connect-to", where, "--cacert", str(ca_file), "--interface", client]
        args = shlex.split(command)
        done = subprocess.run(
            [args[0], "-sS", *options, *args[1:]], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        expected = json.loads(printed[0])
        answer = json.loads(done.stdout)
        assert answer == {**expected, "client": client, "worker": answer["worker"]}
        assert answer["worker"] in {w.pid for w in workers}

        with ExitStack() as sockets:
            answered_by: set[int] = set()
            for _ in range(MAX_CONNECTIONS):
                ws = sockets.enter_context(websocket(f"wss://{base[8:]}/ws", ca, client))
                facts = json.loads(ws.recv(timeout=10))
                assert (facts["client"], facts["scheme"]) == (client, "wss")
                answered_by.add(facts["worker"])
                if len(answered_by) == 2:
                    break
            assert answered_by == {w.pid for w in workers}, answered_by

            ((machine, command),) = later
            assert machine is web
            shown = status(machine, command)
            assert re.search(rf"^host srv\.\S+ \(pid {serve.pid} on ", shown, re.M), shown
            for worker in workers:
                block = re.search(
                    rf"^worker worker\.\S+ \(pid {worker.pid} on .*\n(?:  .*\n)*?"
                    r"  connections: (\d+),",
                    shown,
                    re.M,
                )
                assert block, shown
                assert int(block.group(1)) >= 1, shown  # each holds a connection

        for worker in workers:
            stop_within(worker, 20)
        stop_within(serve, 20)
        stop_nginx(nginx)
        for redis in started[""]:
            stop_within(redis, 20)
