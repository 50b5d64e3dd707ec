"""Real SMTP clients, run without blocking the loop the server lives on.

swaks runs as a subprocess in a thread (its exit code tells the failing stage: 23 MAIL, 24 RCPT,
25 DATA, 26 rejected after DATA, 28 AUTH, 29 TLS); smtplib runs in a thread.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tests.servers import require_service

__all__ = ["SwaksResult", "in_thread", "smtp_client", "swaks"]

T = TypeVar("T")


@dataclass
class SwaksResult:
    code: int
    transcript: str

    def replies(self, prefix: str) -> list[str]:
        """Server lines starting with ``prefix`` (for example ``"451"``); swaks marks
        them ``<-`` (and errors ``<**``), with ``~`` inside TLS."""
        found = []
        for line in self.transcript.splitlines():
            match = re.match(r"^\s*<[-~*]+\s?(.*)$", line)
            if match and match.group(1).startswith(prefix):
                found.append(match.group(1))
        return found


async def swaks(*args: str, within: float = 60) -> SwaksResult:
    binary = shutil.which("swaks")
    if binary is None:
        require_service("swaks (apt install swaks)")
    assert binary is not None
    # subprocess.run kills swaks if it outlives ``within``; a thread keeps the loop free.
    done = await asyncio.to_thread(
        subprocess.run,
        [binary, "--server", "127.0.0.1", "--helo", "client.test", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=within, check=False,
    )  # fmt: skip
    return SwaksResult(done.returncode, done.stdout.decode("utf-8", "replace"))


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def smtp_client(
    port: int, *, tls: str = "none", ca: str | None = None, timeout: float = 15
) -> smtplib.SMTP:
    """A connected smtplib client: ``tls`` is "none", "starttls" or "implicit"."""
    context = ssl.create_default_context(cafile=ca) if ca else None
    if tls == "implicit":
        client: smtplib.SMTP = smtplib.SMTP_SSL("127.0.0.1", port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    client.ehlo("client.test")
    if tls == "starttls":
        client.starttls(context=context)
        client.ehlo("client.test")
    return client


def send(
    port: int, sender: str, recipients: Sequence[str], data: bytes | str, **kw: str
) -> dict[str, tuple[int, bytes]]:
    with smtp_client(port, **kw) as client:
        return client.sendmail(sender, list(recipients), data)
