"""No acknowledged mail lost: SIGKILL a worker, then Redis (no persistence), while
real SMTP clients send.

``telephonist serve`` (the email interface) and two ``telephonist worker`` processes
over a private Redis started with persistence off, so a killed Redis loses everything
it held. The consumer appends each mail's id to a file before it returns. Eight smtplib
clients send numbered mails, each on a new connection, and note which got ``250``.
With ``acknowledge = "consumed"`` a ``250`` is answered only after the consumer returned,
so every id that got one must be in the file, whatever was killed meanwhile; the rest
got ``451`` (or lost their connection) and are the sender's to retry.

Every wait is bounded and waits on something observable (counts of answers, a line of
a process's output); processes are stopped by the PID this test started.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from telephonist.testing.processes import Process, free_port, wait_until
from tests.servers import RedisServer, find_redis_server, require_service

pytestmark = [pytest.mark.redis, pytest.mark.slow]

TIMEOUT = 60.0  # bound of every wait; passing runs take a fraction
CLIENTS = 8

APP = """
import os
import sys
import time

from telephonist.routing import route

LOG = os.environ["MAILAPP_LOG"]


def consume(message):
    time.sleep(0.002)  # a consumer doing a little work: mails are in flight at a kill
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (message["subject"] + "\\n").encode())  # one short write: atomic
    finally:
        os.close(fd)


routes = [route("email.receive", consume, to=r"^room-")]
"""


@dataclass
class Senders:
    """Eight SMTP clients sending numbered mails until stopped (each loop bounded)."""

    port: int
    acked: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for n in range(CLIENTS):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, client: int) -> None:
        for i in range(100_000):  # bounded; stop ends it long before
            if self.stop.is_set():
                return
            mail_id = f"c{client}-{i}"
            data = f"From: ann@example.com\r\nSubject: {mail_id}\r\n\r\nhello\r\n"
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as smtp:
                    smtp.sendmail("ann@example.com", ["room-a@localhost"], data)
                outcome = "250"
            except smtplib.SMTPResponseException as exc:
                outcome = str(exc.smtp_code)
            except (OSError, smtplib.SMTPException) as exc:
                outcome = type(exc).__name__
            with self.lock:
                self.answers[outcome] += 1
                if outcome == "250":
                    self.acked.add(mail_id)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(TIMEOUT)
            assert not thread.is_alive(), "an SMTP client did not finish"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    binary = find_redis_server()
    if binary is None:
        require_service("a redis-server/valkey-server binary")
    assert binary is not None
    # tests/servers.py starts it with --save "" --appendonly no: no persistence at all.
    server = RedisServer(binary, tmp_path / "redis").start()
    yield server
    server.stop()


def test_no_acknowledged_mail_lost_across_killed_worker_and_redis(
    redis: RedisServer, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "mailapp.py").write_text(textwrap.dedent(APP))
    port = free_port()
    (project / "telephonist.toml").write_text(
        textwrap.dedent(
            f"""
            routing = "mailapp.routes"
            [interfaces.email]
            port = {port}
            acknowledge = "consumed"
            ack_timeout = 3.0
            recipients = ["^room-[-a-z0-9_]{{1,50}}@localhost$"]
            """
        )
    )
    consumed_log = tmp_path / "consumed.txt"
    prefix = "f" + secrets.token_hex(4)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MAILAPP_LOG": str(consumed_log),
        "TELEPHONIST_STATUS__SOCKET_DIR": str(tmp_path / "status"),
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": f'{{"hosts": ["{redis.url}"], "prefix": "{prefix}"}}',
    }
    started: list[Process] = []

    def spawn(command: str) -> Process:
        n = len(started)
        proc = Process(
            [sys.executable, "-m", "telephonist.cli", command],
            log=tmp_path / f"{command}-{n}.out",
            stderr_log=tmp_path / f"{command}-{n}.err",
            cwd=project,
            env=env,
        )
        started.append(proc)
        proc.wait_for_line(r"^telephonist: ready$", timeout=TIMEOUT)
        return proc

    senders = Senders(port)
    try:
        server = spawn("serve")
        first = spawn("worker")
        spawn("worker")
        senders.start()

        def acked_more(n: int) -> None:
            target = senders.count() + n
            wait_until(
                lambda: senders.count() >= target,
                timeout=TIMEOUT,
                what=f"{target} acknowledged mails (answers so far: {dict(senders.answers)})",
                watch=[server],
            )

        acked_more(100)
        first.kill()  # SIGKILL: whatever it held in flight is gone
        acked_more(100)  # the other worker carries on
        assert redis.proc is not None
        redis.proc.kill()  # SIGKILL, no persistence: every queued message is gone
        redis.start()  # the same port, empty
        spawn("worker")
        acked_more(100)  # served again after the outage
        senders.join()
        assert server.poll() is None, server.tail()
    finally:
        senders.stop.set()
        for proc in started:
            proc.kill()

    consumed = set(consumed_log.read_text().split())
    print(f"answers {dict(senders.answers)}; consumed {len(consumed)} distinct")  # for -s
    lost = senders.acked - consumed
    assert not lost, f"{len(lost)} acknowledged mails never consumed: {sorted(lost)[:10]}"
    # The kills did cost something, and it was answered as a retry, not a 250.
    refused = sum(n for answer, n in senders.answers.items() if answer != "250")
    assert refused > 0, senders.answers
    assert "550" not in senders.answers, senders.answers
    # Bounded logging: rate-limited lines, not one (or a traceback) per refused mail.
    errors = (tmp_path / "serve-0.err").read_text().splitlines()
    assert len(errors) < 100 + refused // 10, "\n".join(errors[-40:])
