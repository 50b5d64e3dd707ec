"""A private ngircd for ``bench/irc.py``: flood throttling off, on a free loopback port.

``MaxPenaltyTime = 0`` turns ngircd's per-client penalty off (otherwise 50 lines take
about 16 s, so every bot would measure the server's pacing, not itself);
``MaxConnectionsIP = 0`` lets the load client and the bot share 127.0.0.1. No DNS,
ident or PAM look-ups. Ready when a TCP connect succeeds; stopped by the PID we started
(``telephonist.testing.processes``). ``ngircd`` comes from the system (``apt install
ngircd``; ``scripts/peers/irc.sh``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from telephonist.testing.processes import Process, free_port

__all__ = ["PrivateIrcd", "find_ngircd", "private_ircd"]


def find_ngircd() -> str | None:
    found = shutil.which("ngircd")
    if found is None and os.path.exists("/usr/sbin/ngircd"):
        found = "/usr/sbin/ngircd"
    return found


class PrivateIrcd:
    def __init__(self, binary: str, directory: Path) -> None:
        self.port = free_port()
        (directory / "conf.d").mkdir()
        conf = directory / "ngircd.conf"
        conf.write_text(
            "[Global]\nName = irc.bench.local\nInfo = Telephonist benchmark server\n"
            f"Listen = 127.0.0.1\nPorts = {self.port}\nMotdPhrase = bench\n"
            "[Limits]\nMaxConnectionsIP = 0\nMaxNickLength = 30\nMaxPenaltyTime = 0\n"
            "PingTimeout = 120\nPongTimeout = 60\n"
            f"[Options]\nDNS = no\nIdent = no\nPAM = no\nIncludeDir = {directory}/conf.d\n"
        )
        self.proc = Process([binary, "-n", "-f", str(conf)], log=directory / "ngircd.log")
        try:
            self.proc.wait_for_port(self.port)
        except BaseException:
            self.proc.stop()
            raise

    def stop(self) -> None:
        self.proc.stop()


@contextlib.contextmanager
def private_ircd(binary: str) -> Iterator[PrivateIrcd]:
    with tempfile.TemporaryDirectory(prefix="telephonist-bench-ircd-") as tmp:
        server = PrivateIrcd(binary, Path(tmp))
        try:
            yield server
        finally:
            server.stop()
