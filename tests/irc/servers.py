"""Private IRC servers for the tests: ngircd, InspIRCd (+ Anope services), miniircd.

Each one gets its own config in a temp dir, listens on free loopback ports, is ready
when a TCP connect succeeds (and, for InspIRCd + Anope, when the services have linked),
and is stopped by the PID we started. ``find_*`` return ``None`` when the binary is
missing; callers then use ``tests.servers.require_service`` (skip locally, fail in CI).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import free_port, wait_for_port

__all__ = [
    "SERVICES_NAME",
    "AnopeServices",
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
            self.command(),
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_no_core_dumps,  # InspIRCd with gnutls may crash on SIGTERM
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
            wait_for_port(self.tls_port, self.proc)
        return self


SERVICES_NAME = "services.test.local"


@dataclass
class AnopeServices:
    """Anope 2.0 linked to an :class:`InspIRCd` as its services, with NickServ and SASL.

    Runs as ``nobody`` (Anope refuses root) from a private directory. Accounts are made
    the real way: a client registers with NickServ (see the SASL tests)."""

    directory: Path
    ircd: InspIRCd
    binary: str = "anope"
    proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def find() -> str | None:
        return shutil.which("anope") or (
            "/usr/sbin/anope" if os.path.exists("/usr/sbin/anope") else None
        )

    def configure(self) -> None:
        d = self.directory
        for sub in ("conf", "data", "logs", "data/backups"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "conf" / "services.motd").write_text("test\n")
        nickserv = {"client": "NickServ", "forceemail": "no", "regdelay": "0s",
                    "defaults": "ns_secure", "expire": "21d", "killquick": "20s",
                    "kill": "60s", "enforceruser": "enforcer", "guestnickprefix": "Guest",
                    "enforcerhost": "services.host", "releasetimeout": "1m",
                    "nonicknameownership": "yes", "passlen": "32"}  # fmt: skip
        blocks = [
            ("define", {"name": "services.host", "value": SERVICES_NAME}),
            ("uplink", {"host": "127.0.0.1", "ipv6": "no", "ssl": "no",
                        "port": str(self.ircd.link_port), "password": self.ircd.link_password}),
            ("serverinfo", {"name": SERVICES_NAME, "description": "Services",
                            "pid": f"{d}/data/anope.pid", "motd": f"{d}/conf/services.motd"}),
            ("module", {"name": "inspircd3"}),
            ("networkinfo", {"networkname": "TestNet", "nicklen": "30", "userlen": "10",
                             "hostlen": "64", "chanlen": "64", "modelistsize": "100",
                             "vhost_chars": "abcdefghijklmnopqrstuvwxyz0123456789.-",
                             "allow_undotted_vhosts": "false", "disallow_start_or_end": ".-"}),
            ("options", {"casemap": "rfc1459", "strictpasswords": "no", "badpasslimit": "0",
                         "updatetimeout": "5m", "expiretimeout": "30m", "readtimeout": "1s",
                         "warningtimeout": "4h", "timeoutcheck": "1s", "retrywait": "1s"}),
            ("log", {"target": "services.log", "bot": "", "logage": "1", "servers": "*",
                     "users": "*", "other": "*", "commands": "*"}),
            ("module", {"name": "enc_sha256"}),
            ("module", {"name": "db_flatfile", "database": "anope.db", "keepbackups": "0",
                        "fork": "no"}),
            ("service", {"nick": "NickServ", "user": "services", "host": "services.host",
                         "gecos": "Nickname Registration Service"}),
            ("module", {"name": "nickserv", **nickserv}),
            ("module", {"name": "ns_register", "registration": "none", "maxemail": "0"}),
            ("command", {"service": "NickServ", "name": "REGISTER",
                         "command": "nickserv/register"}),
            ("module", {"name": "ns_identify", "maxlogins": "10"}),
            ("module", {"name": "ns_cert", "max": "5"}),
            ("command", {"service": "NickServ", "name": "CERT", "command": "nickserv/cert"}),
            ("module", {"name": "m_sasl"}),
        ]  # fmt: skip
        text = "".join(
            name + "\n{\n" + "".join(f'\t{k} = "{v}"\n' for k, v in keys.items()) + "}\n"
            for name, keys in blocks
        )
        (d / "conf" / "services.conf").write_text(text)

    def start(self) -> AnopeServices:
        self.configure()
        d = self.directory
        if os.geteuid() == 0:  # Anope runs as nobody and writes its db and logs here
            for path in (d, d / "data", d / "logs", d / "data/backups"):
                os.chown(path, _nobody_uid(), -1)
        args = [
            self.binary, f"--confdir={d}/conf", f"--dbdir={d}/data", f"--logdir={d}/logs",
            "--modulesdir=/usr/lib/anope", "--localedir=/usr/share/locale", "--nofork",
        ]  # fmt: skip
        if os.geteuid() == 0:  # Anope refuses to run as root
            args = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *args]
        log = (d / "anope.out").open("ab")
        self.proc = subprocess.Popen(args, cwd=d, stdout=log, stderr=subprocess.STDOUT)
        self.wait_linked()
        return self

    def wait_linked(self, within: float = 20.0) -> None:
        """Ready once the IRC server offers ``sasl``, which it does only while the
        services are linked: a real CAP LS probe, repeated until then (bounded)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"anope exited with {self.proc.returncode}")
            with socket.create_connection(("127.0.0.1", self.ircd.port), timeout=2) as probe:
                probe.sendall(b"CAP LS 302\r\n")
                data = b""
                with contextlib.suppress(TimeoutError):
                    while b"\n" not in data:
                        chunk = probe.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                if b"sasl" in data:
                    return
            time.sleep(0.05)  # poll interval of a readiness probe, not synchronisation
        raise TimeoutError(f"anope did not link to the IRC server within {within}s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _nobody_uid() -> int:
    import pwd

    return pwd.getpwnam("nobody").pw_uid
