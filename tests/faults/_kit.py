"""The fault suite's stack: a private Redis that a test kills and restarts, one
``telephonist serve`` (HTTP and WebSocket, email, IRC against a private ngircd) and one
``telephonist worker`` over it, started as an operator starts them
(``telephonist.testing.processes`` through ``tests.http.process.RunningServer``).

What every fault test checks afterwards lives here too: ``status()`` reads the processes'
status sockets (what ``telephonist status`` shows), ``assert_no_leaks`` says the host's
tables are empty once the clients are gone, ``assert_quiet_log`` that the log stayed
short and had no traceback. Waits are bounded waits on conditions; nothing sleeps to
synchronise.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import smtplib
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telephonist.runtime.status import query_sockets
from telephonist.testing.processes import wait_until
from tests.http.process import RunningServer
from tests.irc.servers import Ngircd
from tests.servers import RedisServer, find_redis_server, require_service

__all__ = [
    "ROOM",
    "IrcClient",
    "Stack",
    "assert_no_leaks",
    "assert_quiet_log",
    "irc_line",
    "smtp_code",
]

ROOM = "#faults"
#: Quick heartbeats, so a worker's death is noticed within a second; short enough that
#: an outage longer than ``heartbeat_interval * heartbeat_misses`` would, without the
#: pause, abort every connection (the bug this suite guards against).
HEARTBEAT = 0.2
#: Seconds before the server answers 504 for a request nobody answered.
RESPONSE_TIMEOUT = 3
#: What must never be in a log: a traceback, an exception nobody retrieved.
FORBIDDEN = ("Traceback", "Task exception was never retrieved", "was never awaited")


def _toml(irc_port: int | None) -> str:
    lines = [
        'routing = "tests.faults.app.routes"',
        "[interfaces.http]",
        'endpoints = ["tcp:port=0:interface=127.0.0.1"]',
        "retry_after = 1",
        # A one-event request (no streamed body) is not bound to its worker, so nothing
        # tells the server that worker died: this bound answers it (504).
        f"response_timeout = {RESPONSE_TIMEOUT}",
        "[interfaces.http.websocket]",
        "handshake_timeout = 30",
        "[interfaces.email]",
        "port = 0",
        'domains = ["localhost"]',
        # 250 waits for the consumer (acknowledge = "consumed"); a mail whose worker was
        # killed gets its 451 after this, well inside the SMTP client's timeout (and
        # long enough that a mail to a live worker on a loaded machine is not one).
        "ack_timeout = 10",
        # Each mail's reply channel lives this long at most (for the consumer's reply
        # mails): as short as the configuration allows, so the suite sees it released.
        # (It was 1 s, below ack_timeout: a mail the restarted worker took over a second
        # to consume was answered 451, the wait cut short by the closing window.)
        "reply_window = 10",
    ]
    if irc_port is not None:
        lines += [
            "[interfaces.irc]",
            "[[interfaces.irc.networks]]",
            'name = "test"',
            'host = "127.0.0.1"',
            f"port = {irc_port}",
            "tls = false",
            'nick = "faultbot"',
            f'channels = ["{ROOM}"]',
            "reconnect_initial = 0.05",
            "reconnect_max = 0.5",
            "flood_control = false",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Stack:
    root: Path
    retry_budget: float
    redis: RedisServer = field(init=False)
    irc: Ngircd | None = field(init=False, default=None)
    serve: RunningServer = field(init=False)
    worker: RunningServer = field(init=False)
    smtp_port: int = field(init=False, default=0)
    env: dict[str, str] = field(init=False, default_factory=dict)
    toml: str = field(init=False, default="")
    workers: int = field(init=False, default=0)

    @classmethod
    @contextmanager
    def running(cls, root: Path, retry_budget: float, irc: bool = False) -> Iterator[Stack]:
        stack = cls(root, retry_budget)
        try:
            stack._start(irc)
            yield stack
        finally:
            stack.close()

    def _start(self, irc: bool) -> None:
        binary = find_redis_server()
        if binary is None:
            require_service("a redis-server/valkey-server binary")
            raise AssertionError("unreachable")
        self.redis = RedisServer(binary, self.root / "redis").start()
        if irc:
            if Ngircd.find() is None:
                require_service("ngircd")
            self.irc = Ngircd(self.root / "ngircd", binary=Ngircd.find() or "ngircd").start()
        status_dir = self.root / "status"
        status_dir.mkdir(mode=0o700)
        layer = {
            "hosts": [self.redis.url],
            "prefix": f"f{secrets.token_hex(4)}",
            "retry_budget": self.retry_budget,
            "reconnect_max_delay": 0.1,
        }
        self.env = {
            "TELEPHONIST_LAYER__BACKEND": "redis",
            "TELEPHONIST_LAYER__CONFIG": json.dumps(layer),
            "TELEPHONIST_AFFINITY__HEARTBEAT_INTERVAL": str(HEARTBEAT),
            "TELEPHONIST_STATUS__SOCKET_DIR": str(status_dir),
        }
        self.toml = _toml(self.irc.port if self.irc else None)
        self.serve = RunningServer(self.root / "serve", self.toml, env=self.env, command="serve")
        self.serve.ready()
        found = re.search(
            r"interface email: smtp://127\.0\.0\.1:(\d+)", self.serve.process.output()
        )
        assert found, self.serve.process.output()
        self.smtp_port = int(found.group(1))
        self.worker = self.start_worker()

    def start_worker(self) -> RunningServer:
        self.workers += 1
        directory = self.root / f"worker{self.workers}"
        return RunningServer(directory, self.toml, env=self.env, command="worker").ready()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.serve.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.serve.port}/ws/echo"

    def documents(self) -> list[dict[str, Any]]:
        """What ``telephonist status`` reads from each process's status socket."""
        return asyncio.run(query_sockets(self.root / "status", 5.0))

    def status(self) -> dict[str, Any]:
        """``{"host": part, "worker": part}`` from the processes' status sockets."""
        return {p["kind"]: p for doc in self.documents() for p in doc["parts"]}

    def layer_reachable(self) -> bool:
        """Whether both processes' layers say they reach Redis."""
        docs = self.documents()
        return len(docs) == 2 and all(doc["layer"]["reachable"] for doc in docs)

    def layer_down_seen(self) -> bool:
        """Both processes' affinity watchdogs reached a heartbeat deadline while their
        layer was down (and paused it rather than taking the other side for dead)."""
        parts = self.status()
        return all(
            parts.get(k, {}).get("counters", {}).get("layer_down") for k in ("host", "worker")
        )

    def counter(self, interface: str, name: str) -> int:
        host = self.status().get("host")
        return int(host["interfaces"][interface]["counters"].get(name, 0)) if host else 0

    def close(self) -> None:
        for name in ("worker", "serve"):
            proc = getattr(self, name, None)
            if proc is not None:
                proc.stop()
        if self.irc is not None:
            self.irc.stop()
        if hasattr(self, "redis"):
            self.redis.stop()


def assert_no_leaks(stack: Stack, *, irc_rooms: int = 0, within: float = 15.0) -> None:
    """The host's connection table and reply channels and the worker's table are empty
    once the clients are gone: nothing outlives its connection. ``irc_rooms``: IRC
    conversations, which live as long as the bot sits in the room."""
    try:
        wait_until(lambda: _held(stack, irc_rooms) is None, timeout=within, what="empty tables")
    except TimeoutError as exc:
        raise AssertionError(f"state outlived its connections: {_held(stack, irc_rooms)}") from exc


def _held(stack: Stack, irc_rooms: int) -> str | None:
    """``None`` once nothing but the IRC rooms is held; else what is."""
    parts = stack.status()
    host, worker = parts.get("host"), parts.get("worker")
    if host is None or worker is None:
        return f"no status from {sorted(parts)}"
    channels = {n: i["connections"] for n, i in host["interfaces"].items() if i["connections"]}
    bound = sum(host["affinity"]["connections"].values())
    held = worker["affinity"]["connections"]
    if (
        channels.get("irc", 0) <= irc_rooms
        and not set(channels) - {"irc"}
        and bound <= irc_rooms
        and held <= irc_rooms
    ):
        return None
    return repr({"reply channels": channels, "affinity": host["affinity"], "worker": held})


def assert_quiet_log(proc: RunningServer, max_warnings: int) -> list[str]:
    """No traceback, and at most ``max_warnings`` lines at WARNING or above (INFO lines,
    the access log and aiosmtpd's session log, grow with the clients, not the fault).
    Returns those lines."""
    text = proc.stderr()
    for word in FORBIDDEN:
        assert word not in text, f"{word!r} in the log of {proc.command}:\n{text[-6000:]}"
    loud = [ln for ln in text.splitlines() if re.match(r"\S+ (WARNING|ERROR|CRITICAL) ", ln)]
    shown = "\n".join(loud)
    assert len(loud) <= max_warnings, f"{len(loud)} warnings from {proc.command}:\n{shown}"
    return loud


def smtp_code(port: int, to: str = "room-a@localhost") -> int:
    """One mail through a real SMTP client; the server's answer to the whole transaction
    (250, or the 4xx/5xx it refused with)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("someone@example.com", [to], b"Subject: hi\r\n\r\nhello\r\n")
    except smtplib.SMTPRecipientsRefused as exc:
        return int(next(iter(exc.recipients.values()))[0])
    except smtplib.SMTPResponseException as exc:
        return int(exc.smtp_code)
    return 250


class IrcClient:
    """A person on the IRC server: a raw socket, lines read with a bounded wait."""

    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.nick = nick
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :fault suite")
        self.wait_for(" 001 ")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def wait_for(self, text: str, within: float = 15.0) -> str:
        """The first line containing ``text`` (PINGs answered meanwhile)."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no IRC line with {text!r} within {within}s"
            self.sock.settimeout(left)
            while b"\r\n" in self.buf:
                raw, self.buf = self.buf.split(b"\r\n", 1)
                line = raw.decode("utf-8", "replace")
                if line.startswith("PING"):
                    self.send("PONG" + line[4:])
                elif text in line:
                    return line
            chunk = self.sock.recv(4096)
            assert chunk, f"the IRC server closed the connection before {text!r}"
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def irc_line(client: IrcClient, text: str) -> str:
    """Say ``text`` in the room; the bot's answer to it."""
    client.send(f"PRIVMSG {ROOM} :{text}")
    return client.wait_for(f"{ROOM}: {text}")
