"""docs/deploy.md "systemd units": each unit file checked by ``systemd-analyze verify``,
then run the way systemd would run it (``units.py``): the processes serve, and each
stops on the unit's ``KillSignal`` within its ``TimeoutStopSec``, with exit status 0.
The page's Redis configuration is the layer's server."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from telephonist.testing.processes import Process, free_port
from tests.servers import require_service

from .page import ROOT, Machine, files
from .procs import Procs, report, stop_within
from .stack import READY, http_endpoint, install_app, start_redis, websocket
from .units import Unit, verify

pytestmark = [pytest.mark.redis]

UNITS = "/etc/systemd/system/"
SERVE = UNITS + "telephonist-serve.service"
WORKER = UNITS + "telephonist-worker@.service"
INTERFACES = UNITS + "multichat-interfaces.service"
DJANGO_WORKER = UNITS + "multichat-worker@.service"
EXAMPLE = ROOT / "examples" / "multichat"


def machine(root: Path) -> Machine:
    """One machine on loopback; Redis and Telephonist on free ports (port=0 is printed)."""
    redis_port = free_port()
    return Machine(
        "web1",
        root / "web1",
        "127.0.0.1",
        "127.0.0.",
        replacements=[
            ("bind 10.0.0.5", "bind 127.0.0.1"),
            ("port 6379", f"port {redis_port}"),
            ("10.0.0.5:6379", f"127.0.0.1:{redis_port}"),
            ("port=8000", "port=0"),
        ],
    )


def install_multichat(web: Machine) -> None:
    shutil.copytree(
        EXAMPLE,
        web.path("/srv/multichat"),
        ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"),
    )
    env = web.install("/etc/multichat/env")
    # Free ports for the example's HTTP (8000) and email (2525) interfaces.
    with env.open("a") as extra:
        extra.write(
            "TELEPHONIST_INTERFACES__HTTP__ENDPOINTS='[\"tcp:port=0:interface=127.0.0.1\"]'\n"
        )
        extra.write("TELEPHONIST_INTERFACES__EMAIL__PORT=0\n")


@dataclass
class Service:
    """A unit's main process, started the way systemd starts it."""

    proc: Process
    unit: Unit

    @classmethod
    def start(
        cls, procs: Procs, web: Machine, page_path: str, instance: str | None = None
    ) -> Service:
        """``systemctl start`` as far as the process can tell: ExecStartPre, then
        ExecStart, in WorkingDirectory with the unit's environment."""
        unit = Unit.load(web.path(page_path))
        env = unit.environment(run=web.path("/run"), state=web.path("/var/lib"))
        cwd = unit.working_directory
        for command in unit.exec_start_pre(instance):
            done = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, f"ExecStartPre {command}:\n{done.stdout}{done.stderr}"
        name = Path(page_path).name.replace("@.", f"@{instance}.")
        proc = procs.start(name, unit.exec_start(instance), cwd=cwd, env=env)
        proc.wait_for_line(f"^{READY}$", timeout=60)
        return cls(proc, unit)

    def stop(self) -> float:
        """``systemctl stop``: KillSignal, then up to TimeoutStopSec; exit status 0."""
        took = stop_within(self.proc, self.unit.timeout_stop, self.unit.kill_signal)
        assert "telephonist: stopped" in self.proc.output(), report(self.proc)
        return took


def test_every_unit_file_passes_systemd_analyze_verify(machines_root: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        require_service("systemd-analyze (scripts/peers/deploy.sh installs systemd)")
    web = machine(machines_root)
    install_app(web)
    install_multichat(web)
    units = [web.install(path) for path in files() if path.startswith(UNITS)]
    assert {u.name for u in units} == {
        Path(p).name for p in (SERVE, WORKER, INTERFACES, DJANGO_WORKER)
    }
    done = verify(units)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # The check can fail: a unit systemd would not run as written is reported.
    broken = units[0].with_name("broken.service")
    broken.write_text(units[0].read_text().replace("KillSignal=SIGTERM", "KillSignal=SIGTERMINATE"))
    assert "Failed to parse signal" in verify([broken]).stderr


def test_telephonist_units_serve_and_stop_gracefully(machines_root: Path, procs: Procs) -> None:
    web = machine(machines_root)
    install_app(web)
    web.install("/etc/telephonist/env")
    for path in (SERVE, WORKER):
        web.install(path)
    start_redis(procs, web, "/etc/redis/telephonist.conf")
    serve = Service.start(procs, web, SERVE)
    workers = [Service.start(procs, web, WORKER, str(i)) for i in (1, 2)]
    host, port = http_endpoint(serve.proc)
    pids = {w.proc.pid for w in workers}

    answer = httpx.get(f"http://{host}:{port}/whoami", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["worker"] in pids
    with websocket(f"ws://{host}:{port}/ws", None, "127.0.0.1") as ws:
        assert json.loads(ws.recv(timeout=10))["scheme"] == "ws"

        # The environment file was read: JSON log lines (TELEPHONIST_LOG_FORMAT=json).
        lines = [line for line in serve.proc.errors().splitlines() if line.strip()]
        assert lines
        assert all(isinstance(json.loads(line), dict) for line in lines), lines
        # RuntimeDirectory + TELEPHONIST_STATUS__SOCKET_DIR: every process's status socket.
        sockets = {p.name for p in web.path("/run/telephonist").iterdir()}
        assert sockets == {f"{s.proc.pid}.sock" for s in (serve, *workers)}

        took = serve.stop()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001  # going away
    assert took < 10  # nothing in flight: far within TimeoutStopSec
    for worker in workers:
        worker.stop()


def test_django_units_serve_the_example_and_stop_gracefully(
    machines_root: Path, procs: Procs
) -> None:
    web = machine(machines_root)
    install_multichat(web)
    for path in (INTERFACES, DJANGO_WORKER):
        web.install(path)
    start_redis(procs, web, "/etc/redis/telephonist.conf")
    interfaces = Service.start(procs, web, INTERFACES)  # migrates first (ExecStartPre)
    assert web.path("/var/lib/multichat/db.sqlite3").exists()
    worker = Service.start(procs, web, DJANGO_WORKER, "1")
    host, port = http_endpoint(interfaces.proc)

    page = httpx.get(f"http://{host}:{port}/", timeout=10)
    assert page.status_code == 200
    assert "<title>multichat</title>" in page.text
    # A room in plain frames: what is said comes back to everyone in it (the worker
    # stores the line and sends it to the room's group), whatever else the room shows.
    page_origin = f"http://{host}:{port}"  # the origin of the page that opens the room
    with websocket(
        f"ws://{host}:{port}/chat/lobby/?name=ann", None, "127.0.0.1", origin=page_origin
    ) as ws:
        ws.send("hello from a unit")
        deadline = time.monotonic() + 15
        while "hello from a unit" not in (frame := str(ws.recv(timeout=15))):
            assert time.monotonic() < deadline, f"not said back; last frame {frame!r}"

    interfaces.stop()
    worker.stop()
