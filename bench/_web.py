"""The web servers under test, started the way a user starts them, one at a time.

Every server serves the same Django project (``bench/webapp``) from a temporary working
directory on a free loopback port:

* ``telephonist-run``: ``telephonist run``, interfaces and a worker in one process on the
  in-memory layer; ``http.*`` routed to ``DjangoViewConsumer``, ``/ws/echo`` to an async
  consumer (``bench/webapp/routing.py``);
* ``telephonist-split-1`` / ``-2``: ``telephonist serve`` plus one or two
  ``telephonist worker`` processes over the private Redis/Valkey server;
* ``daphne`` / ``uvicorn``: Channels 4's ``ProtocolTypeRouter`` with Django's ASGI app and
  an ``AsyncWebsocketConsumer`` echo (``bench/webapp/asgi.py``);
* ``channels-run`` / ``channels-split``: that same Channels application hosted in
  Telephonist's workers, started as a Channels user moving to Telephonist starts it
  (docs/django.md, "Moving a Channels project"): ``telephonist.django`` added to
  ``INSTALLED_APPS`` (``bench/webapp/settings_telephonist.py``, ``ASGI_APPLICATION`` as
  it is), then ``manage.py runserver``, or ``runinterfaces`` plus ``runworker`` processes
  with the project's ``CHANNEL_LAYERS`` (channels_redis, which Telephonist's Redis layer
  serves) on the private Redis/Valkey server.

Logging per request is off everywhere (Telephonist ``access_log = false``, uvicorn
``--no-access-log``; Daphne writes none unless asked), so no server pays for a log
line the others skip. Everything else is each server's default, WebSocket keepalive
included (a ping every 20 s on all three); ``keepalive=False`` turns those pings off
everywhere (Telephonist ``ping_interval = 0``, Daphne and uvicorn a ping interval of a
day), to see what idle connections cost apart from their pings.

With ``tls=True`` each server also listens on a second port with TLS (a throwaway
certificate from ``trustme``), where Telephonist and Daphne offer ALPN ``h2``: the
HTTP/2 rows of ``bench/http.py``. Telephonist serves h2c (prior knowledge) on its plain
port too; Daphne has no h2c and uvicorn no HTTP/2 at all.

A server is ready when ``GET /sync`` answers 200 through the whole path (for a split,
after every worker printed ``telephonist: ready``), polled, never a fixed sleep. It is
stopped by the PIDs we started, also at exit and on Ctrl-C; each process runs in a
session of its own, so a Ctrl-C reaches only the benchmark, which stops them
(``telephonist.testing.processes``).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from telephonist.testing.processes import Process, free_port, wait_until

__all__ = ["SERVERS", "RunningServer", "ServerSpec", "serving", "wait_serving"]

REPO = Path(__file__).resolve().parent.parent
SETTINGS = "bench.webapp.settings"
#: The same project with ``telephonist.django`` added to ``INSTALLED_APPS``.
HOSTED_SETTINGS = "bench.webapp.settings_telephonist"
ROUTING = "bench.webapp.routing.routes"
ASGI_APP = "bench.webapp.asgi:application"
READY_LINE = "telephonist: ready"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    kind: str  # "run", "split", "channels-run", "channels-split", "daphne", "uvicorn"
    description: str
    workers: int = 0  # worker processes of a split deployment
    #: Channels' layer under Daphne/uvicorn (``bench/webapp/settings.py``): "memory",
    #: "redis-core", "redis-pubsub" or "telephonist-redis".
    layer: str = "memory"

    @property
    def uses_redis(self) -> bool:
        return self.kind in ("split", "channels-split") or "redis" in self.layer

    @property
    def is_telephonist(self) -> bool:
        return self.kind in ("run", "split", "channels-run", "channels-split")

    @property
    def hosts_asgi_application(self) -> bool:
        """Telephonist serving the project's Channels ``ASGI_APPLICATION``."""
        return self.kind.startswith("channels-")


SERVERS = (
    ServerSpec("telephonist-run", "run", "Telephonist all-in-one, in-memory layer"),
    ServerSpec("telephonist-split-1", "split", "telephonist serve + 1 worker, Redis", 1),
    ServerSpec("telephonist-split-2", "split", "telephonist serve + 2 workers, Redis", 2),
    ServerSpec("daphne", "daphne", "Daphne 4 + Channels 4"),
    ServerSpec("uvicorn", "uvicorn", "uvicorn + Channels 4"),
)


class RunningServer:
    """A started server: ``front`` faces clients (its PID is the one measured for memory
    and CPU), ``workers`` are a split deployment's worker processes."""

    def __init__(
        self,
        spec: ServerSpec,
        port: int,
        front: Process,
        workers: list[Process],
        tls_port: int | None = None,
    ) -> None:
        self.spec = spec
        self.port = port
        self.front = front
        self.workers = workers
        self.tls_port = tls_port

    @property
    def pids(self) -> list[int]:
        return [self.front.pid, *(w.pid for w in self.workers)]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def https_url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.tls_port}{path}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


_NO_PING = "86400"  # seconds: Daphne and uvicorn have no "off"; a day is off here


def _tls_endpoint(port: int, directory: Path) -> str:
    return (
        f"ssl:port={port}:interface=127.0.0.1:privateKey={directory / 'key.pem'}"
        f":certKey={directory / 'cert.pem'}"
    )


def _write_cert(directory: Path) -> None:
    import trustme

    cert = trustme.CA().issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(directory / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))


def _toml(
    spec: ServerSpec, port: int, redis_url: str | None, keepalive: bool, tls: str | None
) -> str:
    endpoints = [f"tcp:port={port}:interface=127.0.0.1", *([tls] if tls else [])]
    # A hosted Channels application is the project's ASGI_APPLICATION: no routing of ours
    # (it would come first), and the layer is the project's CHANNEL_LAYERS.
    routing = [] if spec.hosts_asgi_application else [f'routing = "{ROUTING}"']
    lines = [
        *routing,
        'log_level = "WARNING"',
        "",
        "[interfaces.http]",
        "endpoints = [" + ", ".join(f'"{e}"' for e in endpoints) + "]",
        "access_log = false",
    ]
    if not keepalive:
        lines += ["", "[interfaces.http.websocket]", "ping_interval = 0"]
    if spec.uses_redis and not spec.hosts_asgi_application:
        if redis_url is None:
            raise RuntimeError(f"{spec.name} needs a Redis/Valkey server")
        lines += ["", "[layer]", 'BACKEND = "redis"', f'CONFIG = {{ hosts = ["{redis_url}"] }}']
    return "\n".join(lines) + "\n"


def _env(spec: ServerSpec, redis_url: str | None) -> dict[str, str]:
    # The repository root, not bench/, on the path: bench/http.py would shadow stdlib http.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    settings = HOSTED_SETTINGS if spec.hosts_asgi_application else SETTINGS
    env = {**os.environ, "PYTHONPATH": path, "DJANGO_SETTINGS_MODULE": settings}
    env["BENCH_CHANNEL_LAYER"] = spec.layer
    if redis_url is not None:
        env["BENCH_REDIS_URL"] = redis_url
    return env


def _commands(
    spec: ServerSpec, port: int, keepalive: bool, tls: str | None
) -> tuple[list[str], list[list[str]]]:
    """The front process's command and the workers' commands."""
    python = sys.executable
    cli = [python, "-m", "telephonist.cli"]
    if spec.kind == "run":
        return [*cli, "run"], []
    if spec.kind == "split":
        return [*cli, "serve"], [[*cli, "worker"] for _ in range(spec.workers)]
    manage = [python, "-m", "django"]  # manage.py, with DJANGO_SETTINGS_MODULE set
    if spec.kind == "channels-run":
        # No address argument: it would replace telephonist.toml's endpoints (TLS too).
        return [*manage, "runserver", "--noreload"], []
    if spec.kind == "channels-split":
        workers = [[*manage, "runworker"] for _ in range(spec.workers)]
        return [*manage, "runinterfaces"], workers
    if spec.kind == "daphne":
        args = ["-b", "127.0.0.1", "-p", str(port), *(["-e", tls] if tls else [])]
        if not keepalive:
            args += ["--ping-interval", _NO_PING]
        return [python, "-m", "daphne", *args, ASGI_APP], []
    if spec.kind == "uvicorn":
        args = ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        if not keepalive:
            args += ["--ws-ping-interval", _NO_PING]
        return [python, "-m", "uvicorn", ASGI_APP, *args, "--log-level", "warning"], []
    raise ValueError(f"unknown server kind {spec.kind!r}")


def _serves(port: int, path: str, timeout: float) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
    except OSError:
        return False
    return status == 200


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def wait_serving(
    port: int,
    procs: Sequence[Process],
    *,
    announced: Sequence[Process],
    path: str = "/sync",
    timeout: float = 60.0,
    request_timeout: float = 2.0,
) -> None:
    """Wait until each of ``announced`` has printed ``READY_LINE``, then until GET ``path``
    on ``port`` answers 200 (the whole path, front to worker); fail early if any of
    ``procs`` exits."""
    deadline = time.monotonic() + timeout
    for proc in announced:
        proc.wait_for_line(f"^{READY_LINE}$", timeout=max(0.0, deadline - time.monotonic()))
    wait_until(
        lambda: _serves(port, path, request_timeout),
        timeout=max(0.0, deadline - time.monotonic()),
        what=f"200 to GET {path} on port {port}",
        watch=procs,
        interval=0.05,
    )


@contextlib.contextmanager
def serving(
    spec: ServerSpec,
    redis_url: str | None,
    *,
    keepalive: bool = True,
    timeout: float = 60.0,
    tls: bool = False,
) -> Iterator[RunningServer]:
    """Start ``spec`` on a free port, wait until it serves, stop it on the way out."""
    with tempfile.TemporaryDirectory(prefix=f"telephonist-bench-{spec.name}-") as tmp:
        directory = Path(tmp)
        port = free_port()
        tls_port = free_port() if tls and spec.kind != "uvicorn" else None
        endpoint = None
        if tls_port is not None:
            _write_cert(directory)
            endpoint = _tls_endpoint(tls_port, directory)
        if spec.is_telephonist:
            (directory / "telephonist.toml").write_text(
                _toml(spec, port, redis_url, keepalive, endpoint)
            )
        front_cmd, worker_cmds = _commands(spec, port, keepalive, endpoint)
        if spec.uses_redis and redis_url is None:
            raise RuntimeError(f"{spec.name} needs a Redis/Valkey server")
        env = _env(spec, redis_url)
        procs: list[Process] = []
        try:
            for i, cmd in enumerate([front_cmd, *worker_cmds]):
                log = directory / f"process-{i}.log"
                procs.append(Process(cmd, log=log, cwd=directory, env=env, new_session=True))
            # Workers announce themselves; a front that is not Telephonist's may not.
            wait_serving(port, procs, announced=procs[1:], timeout=timeout)
            if tls_port is not None:
                wait_until(
                    lambda: _accepts(tls_port),
                    timeout=timeout,
                    what=f"TLS port {tls_port}",
                    watch=procs,
                    interval=0.05,
                )
            yield RunningServer(spec, port, procs[0], procs[1:], tls_port)
        finally:
            for proc in procs:  # the front first: it drains, then the workers
                proc.stop()
