"""docs/operations.md, run as written against a real split deployment: Redis, an
interface server with IRC (on a real ngircd) and the ``linechat`` test plugin, and a
worker. ``telephonist status`` text is checked against it, each process's ``/metrics``
is scraped with ``curl`` and read with prometheus-client's own parser, and the worker's
JSON log lines carry role, connection and route."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from telephonist.testing.processes import Process, free_port, wait_until
from tests.irc.peer import Peer, joined
from tests.irc.servers import Ngircd
from tests.operations import page
from tests.runtime.conftest import ChatClient
from tests.servers import RedisServer

pytestmark = [pytest.mark.redis]

TIMEOUT = 20.0


class Deployment:
    def __init__(self, root: Path, replacements: dict[str, str]) -> None:
        self.root = root
        self.project = root / "project"
        self.project.mkdir()
        self.replacements = replacements
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
        self.env["TELEPHONIST_STATUS__SOCKET_DIR"] = str(root / "status")
        self.env["PYTHONUNBUFFERED"] = "1"
        self.procs: list[Process] = []
        for name, text in page.files().items():
            if name != "prometheus.yml":
                (self.project / name).write_text(self.localize(text))

    def localize(self, text: str) -> str:
        return page.localize(text, self.replacements)

    def start(self, command: str) -> Process:
        args, env, background = page.argv(self.localize(command))
        assert background, command
        n = len(self.procs)
        proc = Process(
            args,
            log=self.root / f"stdout-{n}.txt",
            stderr_log=self.root / f"stderr-{n}.txt",
            cwd=self.project,
            env={**self.env, **env},
        )
        self.procs.append(proc)
        return proc

    def run(self, command: str) -> str:
        args, env, background = page.argv(self.localize(command))
        assert not background, command
        done = subprocess.run(
            args, cwd=self.project, env={**self.env, **env}, capture_output=True, text=True,
            timeout=TIMEOUT, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout


@pytest.fixture
def deployment(
    tmp_path: Path, redis_server: RedisServer, ngircd: Ngircd, request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    redis_port = redis_server.url.rsplit(":", 1)[1].split("/", 1)[0]
    room = "#ops" + str(abs(hash(request.node.nodeid)) % 10**6)
    ports = {"6379": redis_port, "6667": str(ngircd.port)}
    ports.update({p: str(free_port()) for p in ("7000", "9101", "9102")})
    ports.update({"#ops": room, "opsbot": "opsbot" + room[-4:]})
    found = Deployment(tmp_path, ports)
    yield found
    for proc in found.procs:
        proc.kill()


def _status_parts(deployment: Deployment) -> list[dict[str, object]]:
    doc = json.loads(deployment.run("telephonist status --json"))
    parts: list[dict[str, object]] = doc["processes"]
    return parts


async def test_operations_page_status_metrics_and_logs(deployment: Deployment) -> None:
    server_cmd, worker_cmd = page.commands("split")
    server = deployment.start(server_cmd)
    worker = deployment.start(worker_cmd)
    for proc in (server, worker):
        await asyncio.to_thread(proc.wait_for_line, r"^telephonist: ready$", timeout=TIMEOUT)
    room = deployment.replacements["#ops"]
    bot = deployment.replacements["opsbot"]

    # One line on linechat, one on the IRC channel, each answered through the worker.
    linechat = ChatClient(int(deployment.replacements["7000"]))
    alice = Peer("opsalice")
    try:
        linechat.send("hello")
        assert "said: hello" in await asyncio.to_thread(linechat.line)
        await alice.connect(int(deployment.replacements["6667"]))
        await alice.join(room)
        # The bot is there already (in the names list) or joins after us.
        in_names = lambda ln: ln.command == "353" and bot in ln.param(3).replace("@", "").split()  # noqa: E731
        await alice.expect(lambda ln: joined(bot, room)(ln) or in_names(ln), within=TIMEOUT)
        alice.send(f"PRIVMSG {room} :hi there")
        (answer,) = await alice.privmsgs(room, 1, sender=bot)
        assert answer.line.param(1) == "opsalice said: hi there"

        # Both processes answer over Redis, with their connections held.
        def both_bound() -> bool:
            parts = _status_parts(deployment)
            hosts = [p for p in parts if p["kind"] == "host"]
            return len(parts) == 2 and hosts[0]["affinity"]["connections"].get("bound") == 2  # type: ignore[index,union-attr]

        await asyncio.to_thread(wait_until, both_bound, timeout=TIMEOUT, what="two bound")

        (status_cmd,) = page.commands("status")
        text = await asyncio.to_thread(deployment.run, status_cmd)
        _check_status_text(text, deployment)
        for command in page.commands("metrics"):
            scraped = await asyncio.to_thread(deployment.run, command)
            _check_metrics(scraped)
    finally:
        linechat.close()
        await alice.close()
    _check_json_log(worker)


def _check_status_text(text: str, deployment: Deployment) -> None:
    lines = text.splitlines()
    assert lines[0].startswith("layer telephonist.core.redis"), text
    assert "  queue depths: not reported by this backend" in lines
    assert "  group sizes:  not reported by this backend" in lines
    assert any(ln.startswith("  dropped:      ") and "summed over 2 processes" in ln
               for ln in lines), text  # fmt: skip
    linechat_port = deployment.replacements["7000"]
    assert f"  linechat: 1 connections on tcp://127.0.0.1:{linechat_port}" in lines, text
    irc = [ln for ln in lines if ln.startswith("  irc: 1 connections on irc://127.0.0.1:")]
    assert irc, text
    # The IRC interface's own status block, in text (it used to be JSON-only).
    assert "      networks.local.state: ready" in lines, text
    assert f"      networks.local.nick: {deployment.replacements['opsbot']}" in lines, text
    assert any(ln.startswith("      networks.local.lag: ") for ln in lines), text
    assert "  connections: bound=2" in lines, text
    assert any(ln.startswith("host srv.") for ln in lines), text
    assert any(ln.startswith("worker worker.") for ln in lines), text
    assert "  consumer timings:" in lines, text
    timing = [ln for ln in lines if ln.startswith("    route_class([") and "chat.Echo): n=" in ln]
    assert timing, text
    assert int(timing[0].split("n=")[1].split()[0]) >= 2, text
    own_layer = [ln for ln in lines if ln.startswith("  layer (this process): ")]
    assert len(own_layer) == 2, text
    assert any(ln.startswith("    send: n=") for ln in lines), text
    # The worker took events from shared channels: how long they waited there.
    assert any(ln.startswith("    queued: n=") for ln in lines), text


def _check_metrics(scraped: str) -> None:
    families = {f.name: f for f in text_string_to_metric_families(scraped)}
    documented = page.documented_metrics()
    missing = sorted(set(documented) - set(families))
    assert not missing, f"documented but not exported: {missing}"
    for name, kind in documented.items():
        assert families[name].type == kind, name
    undocumented = sorted(n for n in families if n.startswith("telephonist_")
                          and n not in documented)  # fmt: skip
    assert not undocumented, f"exported but not documented: {undocumented}"
    info = {s.labels["role"] for s in families["telephonist_process_info"].samples}
    assert len(info) == 1
    (role,) = info
    if role == "server":
        events = {s.labels["interface"]: s.value
                  for s in families["telephonist_interface_events"].samples}  # fmt: skip
        assert events.get("linechat", 0) >= 2, events
        assert events.get("irc", 0) >= 1, events
        conns = {s.labels["interface"]: s.value
                 for s in families["telephonist_interface_connections"].samples}  # fmt: skip
        assert conns == {"linechat": 1.0, "irc": 1.0}, conns
    else:
        assert role == "worker"
        counts = [s for s in families["telephonist_consumer_duration_seconds"].samples
                  if s.name.endswith("_count")]  # fmt: skip
        assert counts, families
        assert counts[0].labels["route"].endswith(", chat.Echo)"), counts
        assert counts[0].value >= 2
    sent = {s.labels["direction"]: s.value
            for s in families["telephonist_layer_messages"].samples}  # fmt: skip
    assert sent["sent"] > 0, sent
    assert sent["received"] > 0, sent


def _check_json_log(worker: Process) -> None:
    records = [json.loads(line) for line in worker.errors().splitlines() if line.startswith("{")]
    assert records, worker.errors()
    assert all(r.get("role") == "worker" for r in records), records
    answers = [r for r in records if r["logger"] == "chat"]
    assert len(answers) >= 2, records
    for record in answers:
        assert record["route"].endswith(", chat.Echo)")
        assert "…#" in record["connection"]  # shortened, never the reply channel itself
        assert "!" not in record["connection"].split("!", 1)[1].split("#")[0].strip("….")
