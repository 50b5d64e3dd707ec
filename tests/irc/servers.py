"""Private IRC servers for the tests: ngircd, InspIRCd (+ Anope services), miniircd.

Each one gets its own config in a temp dir, listens on free loopback ports, is ready
when a TCP connect succeeds (and, for InspIRCd + Anope, when the services have linked),
and is stopped by the PID we started. ``find_*`` return ``None`` when the binary is
missing; callers then use ``tests.servers.require_service`` (skip locally, fail in CI).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import free_port, wait_for_port

__all__ = [
    "IrcServer",
    "MiniIrcd",
    "Ngircd",
    "make_cert",
]

SERVER_NAME = "irc.test.local"


@functools.cache
def make_cert() -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (cert, key), made once per
    test session (an EC key: quick to make)."""
    directory = Path(tempfile.mkdtemp(prefix="telephonist-irc-cert-"))
    directory.chmod(0o755)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        # Servers that drop root privileges must still read them.
        cert.chmod(0o644)
        key.chmod(0o644)
    return cert, key


@dataclass
class IrcServer:
    """Common start/stop/freeze for a server process."""

    directory: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def configure(self) -> None:
        raise NotImplementedError

    def start(self) -> IrcServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.configure()
        log = (self.directory / "server.log").open("ab")
        self.proc = subprocess.Popen(
            self.command(), cwd=self.directory, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, self.proc)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # in case a test froze it
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing (a hung server)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@dataclass
class Ngircd(IrcServer):
    """ngircd with flood throttling off (``MaxPenaltyTime = 0``) and an optional TLS port."""

    tls_port: int = field(default_factory=free_port)
    binary: str = "ngircd"

    @staticmethod
    def find() -> str | None:
        return shutil.which("ngircd") or (
            "/usr/sbin/ngircd" if os.path.exists("/usr/sbin/ngircd") else None
        )

    def configure(self) -> None:
        d = self.directory
        cert, key = make_cert()
        (d / "conf.d").mkdir(exist_ok=True)
        (d / "ngircd.conf").write_text(
            f"""[Global]
Name = {SERVER_NAME}
Info = Telephonist test server
Listen = 127.0.0.1
Ports = {self.port}
MotdPhrase = test
[Limits]
MaxConnectionsIP = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 120
PongTimeout = 60
[Options]
DNS = no
Ident = no
PAM = no
IncludeDir = {d}/conf.d
[SSL]
CertFile = {cert}
KeyFile = {key}
Ports = {self.tls_port}
"""
        )

    def command(self) -> list[str]:
        return [self.binary, "-n", "-f", str(self.directory / "ngircd.conf")]


@dataclass
class MiniIrcd(IrcServer):
    """The pure-Python fallback (PyPI ``miniircd``): no caps, no flood limits."""

    binary: str = "miniircd"

    @staticmethod
    def find() -> str | None:
        return shutil.which("miniircd")

    def configure(self) -> None:
        pass

    def command(self) -> list[str]:
        args = [self.binary, "--listen", "127.0.0.1", "--ports", str(self.port)]
        return args + (["--setuid", "nobody"] if os.geteuid() == 0 else [])
