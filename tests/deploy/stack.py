"""Starting the page's pieces on a machine, and clients that talk to them the way the
page's clients do (TLS trusting the deployment's CA, from a chosen source address,
with the site's ``Origin``)."""

from __future__ import annotations

import re
import shlex
import ssl
import subprocess
from pathlib import Path

import httpx
import trustme
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from telephonist.testing.processes import Process, free_port

from .network import Network
from .page import Machine, commands, files
from .procs import Procs, report

__all__ = [
    "APP",
    "ORIGIN",
    "READY",
    "SITE",
    "front_ports",
    "http_client",
    "http_endpoint",
    "install_app",
    "run_page_commands",
    "start_redis",
    "start_telephonist",
    "status",
    "websocket",
    "with_layer",
]

APP = "/srv/whoami"
SITE = "/etc/nginx/sites-available/whoami"
TOML = f"{APP}/telephonist.toml"
ORIGIN = "https://chat.example.org"
READY = "telephonist: ready"


def with_layer(fragment: str) -> str:
    """The page's telephonist.toml with its ``[layer]`` table replaced by the page's
    file ``fragment`` (``sentinel.toml``, ``cluster.toml``), as the page says to do."""
    text = files()[TOML]
    layer = re.compile(r"^\[layer\]\n.*?(?=^\[(?!layer))", re.S | re.M)
    assert layer.search(text), "no [layer] table in telephonist.toml"
    return layer.sub(lambda _: files()[fragment].rstrip("\n") + "\n\n", text, count=1)


def install_app(machine: Machine, toml: str | None = None) -> Path:
    """The application's two files in /srv/whoami; returns that directory."""
    machine.install(f"{APP}/whoami.py")
    machine.install(TOML, toml)
    return machine.path(APP)


def start_redis(
    procs: Procs, machine: Machine, conf: str, *, extra: tuple[str, ...] = (), args: str = ""
) -> Process:
    """``redis-server CONF [args]`` on ``machine`` with the page's file ``conf``, plus
    ``extra`` lines and a data directory of its own; ready when its port accepts."""
    path = machine.install(conf)
    text = path.read_text()
    data = machine.path("/var/lib/redis")
    data.mkdir(parents=True, exist_ok=True)
    lines = (*machine.redis_extra, *extra, f"dir {data}")
    path.write_text(text + "".join(f"{line}\n" for line in lines))
    bind = re.search(r"^bind (\S+)", text, re.M)
    port = re.search(r"^port (\d+)", text, re.M)
    assert bind, f"{conf}: no bind"
    assert port, f"{conf}: no port"
    name = f"{Path(conf).stem}-{machine.name}"
    proc = procs.start(
        name, machine.argv(f"redis-server {conf} {args}"), cwd=machine.root, env=machine.env()
    )
    proc.wait_for_port(int(port.group(1)), host=bind.group(1))
    return proc


def start_telephonist(procs: Procs, machine: Machine, command: str, name: str) -> Process:
    """A ``telephonist ...`` command of the page, run in /srv/whoami; ready when it
    prints that it is."""
    proc = procs.start(name, machine.argv(command), cwd=machine.path(APP), env=machine.env())
    proc.wait_for_line(f"^{READY}$")
    return proc


def http_endpoint(proc: Process) -> tuple[str, int]:
    """Where the interface server said its HTTP interface listens."""
    found = re.search(r"^interface http: http://([\d.]+):(\d+)$", "\n".join(proc.seen), re.M)
    assert found, f"no http endpoint printed:\n{report(proc)}"
    return found.group(1), int(found.group(2))


def _context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def http_client(ca: trustme.CA | None, source: str, timeout: float = 10.0) -> httpx.Client:
    verify: ssl.SSLContext | bool = _context(ca) if ca is not None else False
    transport = httpx.HTTPTransport(local_address=source, verify=verify)
    return httpx.Client(transport=transport, timeout=timeout)


def websocket(
    url: str,
    ca: trustme.CA | None,
    source: str,
    *,
    origin: str = ORIGIN,
    headers: dict[str, str] | None = None,
) -> ClientConnection:
    """A WebSocket as a browser on the site opens it (with the site's ``Origin``)."""
    return connect(
        url,
        ssl=_context(ca) if ca is not None and url.startswith("wss:") else None,
        source_address=(source, 0),
        origin=Origin(origin),
        additional_headers=headers,
        # Longer than the server's handshake_timeout (10 s): its own answer is seen.
        open_timeout=15,
        close_timeout=5,
    )


def front_ports(network: Network, web: Machine) -> tuple[int, int]:
    """nginx's ports on web1: the page's in a namespace; on a shared loopback, free
    ones (and a free one for Telephonist's 127.0.0.1:8000 behind it)."""
    if not network.loopback:
        return 80, 443
    app, http, https = free_port(), free_port(), free_port()
    web.replacements += [
        ("port=8000", f"port={app}"),
        ("127.0.0.1:8000", f"127.0.0.1:{app}"),
        ("listen 80;", f"listen {web.address}:{http};"),
        ("listen 443 ssl;", f"listen {web.address}:{https} ssl;"),
    ]
    return http, https


def run_page_commands(
    procs: Procs, machines: dict[str, Machine], block: str
) -> tuple[dict[str, list[Process]], list[tuple[Machine, str]]]:
    """Start the servers of a commands block in order, each ready before the next.
    Returns them by what they are (``telephonist serve`` under "serve", ``redis-server
    CONF --sentinel`` under "--sentinel", plain ``redis-server CONF`` under ""), and the
    one-shot commands (``telephonist status``) to run later."""
    started: dict[str, list[Process]] = {}
    later = []
    for name, command in commands(block):
        machine = machines[name]
        words = shlex.split(command)
        if words[:2] == ["telephonist", "status"]:
            later.append((machine, command))
        elif words[0] == "redis-server":
            args = " ".join(words[2:])
            started.setdefault(args, []).append(start_redis(procs, machine, words[1], args=args))
        else:
            proc = start_telephonist(procs, machine, command, f"{words[1]}-{name}")
            started.setdefault(words[1], []).append(proc)
    return started, later


def status(machine: Machine, command: str = "telephonist status") -> str:
    """Run ``telephonist status`` in /srv/whoami on ``machine``; its output."""
    done = subprocess.run(
        machine.argv(command),
        cwd=machine.path(APP),
        env=machine.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
