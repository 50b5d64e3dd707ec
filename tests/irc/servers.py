"""Private IRC servers for the tests: ngircd, InspIRCd (+ Anope services), miniircd.

Each one gets its own config in a temp dir, listens on free loopback ports, is ready
when a TCP connect succeeds (and, for InspIRCd + Anope, when the services have linked),
and is stopped by the PID we started (``telephonist.testing.processes``). ``find_*``
return ``None`` when the binary is missing; callers then use
``tests.servers.require_service`` (skip locally, fail in CI).
"""

from __future__ import annotations

import atexit
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from telephonist.testing.processes import Process, free_port

__all__ = [
    "InspIRCd",
    "IrcServer",
    "MiniIrcd",
    "Ngircd",
    "make_cert",
    "make_client_cert",
]

SERVER_NAME = "irc.test.local"


@functools.cache
def make_cert() -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (cert, key), made once per
    test session (an EC key: quick to make)."""
    directory = Path(tempfile.mkdtemp(prefix="telephonist-irc-cert-"))
    atexit.register(shutil.rmtree, directory, True)
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


@functools.cache
def make_client_cert() -> tuple[Path, Path, str]:
    """A client certificate (cert, key, SHA-256 fingerprint as IRC servers show it:
    lower-case hex without colons), for CertFP and SASL EXTERNAL."""
    directory = Path(tempfile.mkdtemp(prefix="telephonist-irc-client-"))
    atexit.register(shutil.rmtree, directory, True)
    cert, key = directory / "client.pem", directory / "client.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=bot"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    out = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return cert, key, out.strip().split("=", 1)[1].replace(":", "").lower()


def _no_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@dataclass
class IrcServer:
    """Common start/stop/freeze for a server process."""

    directory: Path
    port: int = field(default_factory=free_port)
    proc: Process | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def configure(self) -> None:
        raise NotImplementedError

    def start(self) -> IrcServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.configure()
        self.proc = Process(
            self.command(),
            log=self.directory / "server.log",
            cwd=self.directory,
            preexec_fn=_no_core_dumps,  # InspIRCd with gnutls may crash on SIGTERM
        )
        self.proc.wait_for_port(self.port)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.stop()  # SIGCONT first, in case a test froze it

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing (a hung server)."""
        assert self.proc is not None
        self.proc.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.signal(signal.SIGCONT)


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
        beside = Path(sys.executable).with_name("miniircd")  # the venv's, from the dev extra
        return str(beside) if beside.exists() else shutil.which("miniircd")

    def configure(self) -> None:
        pass

    def command(self) -> list[str]:
        args = [self.binary, "--listen", "127.0.0.1", "--ports", str(self.port)]
        return args + (["--setuid", "nobody"] if os.geteuid() == 0 else [])


_INSPIRCD_MODULES = (
    "cap", "ircv3", "ircv3_servertime", "ircv3_msgid", "ircv3_echomessage", "ircv3_ctctags",
    "ircv3_labeledresponse", "ircv3_batch", "ircv3_capnotify", "ircv3_chghost",
    "ircv3_accounttag", "namesx",
)  # fmt: skip
_SERVICES_MODULES = ("services_account", "sasl", "spanningtree", "hidechans")


@dataclass
class InspIRCd(IrcServer):
    """InspIRCd 3 with the IRCv3 modules (server-time, message-tags, echo-message, ...),
    and a link block for Anope services when ``services`` is set."""

    link_port: int = field(default_factory=free_port)
    services: str | None = None  # the services server name to accept a link from
    link_password: str = "linkpass"
    binary: str = "inspircd"
    #: With ``tls``: a TLS client port that asks for client certificates (CertFP), whose
    #: SHA-256 fingerprints reach the services for SASL EXTERNAL.
    tls: bool = False
    tls_port: int = field(default_factory=free_port)

    @staticmethod
    def find() -> str | None:
        return shutil.which("inspircd") or (
            "/usr/sbin/inspircd" if os.path.exists("/usr/sbin/inspircd") else None
        )

    def configure(self) -> None:
        d = self.directory
        (d / "motd.txt").write_text("test\n")
        names = _INSPIRCD_MODULES + (_SERVICES_MODULES if self.services else ())
        names += ("ssl_gnutls", "sslinfo") if self.tls else ()
        modules = "\n".join(f'<module name="{m}">' for m in names)
        tls = ""
        if self.tls:
            cert, key = make_cert()
            tls = f"""
<sslprofile name="tls" provider="gnutls" certfile="{cert}" keyfile="{key}" hash="sha256"
            requestclientcert="yes" dhfile="">
<bind address="127.0.0.1" port="{self.tls_port}" type="clients" sslprofile="tls">
"""
        services = ""
        if self.services:
            services = f"""
<bind address="127.0.0.1" port="{self.link_port}" type="servers">
<link name="{self.services}" ipaddr="127.0.0.1" port="{self.link_port}"
      allowmask="127.0.0.0/8" sendpass="{self.link_password}"
      recvpass="{self.link_password}" hidden="no">
<uline server="{self.services}" silent="yes">
<sasl target="{self.services}" requiressl="no">
"""
        (d / "inspircd.conf").write_text(
            f"""<config format="xml">
<server name="{SERVER_NAME}" description="Telephonist test server" network="TestNet">
<admin name="test" nick="test" email="test@example.invalid">
<bind address="127.0.0.1" port="{self.port}" type="clients">
<connect name="main" allow="*" timeout="60" pingfreq="120" hardsendq="1048576" recvq="16384"
         softsendq="1048576" threshold="1000" commandrate="1000000" fakelag="off"
         localmax="1000" globalmax="1000" maxconnwarn="off" resolvehostnames="no"
         useident="no" limit="5000">
<options casemapping="rfc1459" hostintopic="no" defaultmodes="nt">
<security hidesplits="no" hideserver="">
<performance nouserdns="yes" clonesonconnect="no">
<files motd="{d}/motd.txt">
<pid file="{d}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{d}/ircd.log">
<dns server="127.0.0.1" timeout="1">
{modules}
{services}
{tls}
"""
        )

    def command(self) -> list[str]:
        conf = str(self.directory / "inspircd.conf")
        return [self.binary, "--config", conf, "--nofork", "--runasroot"]

    def start(self) -> InspIRCd:
        super().start()
        if self.tls:
            assert self.proc is not None
            self.proc.wait_for_port(self.tls_port)
        return self
