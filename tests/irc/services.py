"""Anope services linked to a private InspIRCd, for SASL (PLAIN and EXTERNAL).

Anope refuses to run as root, so as root it runs as ``nobody`` (``setpriv``) from a
world-traversable temp dir. It is ready once the IRC server offers ``sasl``, which it
does only while services are linked: a real CAP LS probe, repeated until then.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from telephonist.testing.processes import Process, wait_until
from tests.irc.servers import InspIRCd

__all__ = ["SERVICES_NAME", "AnopeServices"]

SERVICES_NAME = "services.test.local"


@dataclass
class AnopeServices:
    """Anope 2.0 linked to an :class:`InspIRCd` as its services, with NickServ and SASL.

    Runs as ``nobody`` (Anope refuses root) from a private directory. Accounts are made
    the real way: a client registers with NickServ (see the SASL tests)."""

    directory: Path
    ircd: InspIRCd
    binary: str = "anope"
    proc: Process | None = None

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
        self.proc = Process(args, log=d / "anope.out", cwd=d)
        self.wait_linked()
        return self

    def wait_linked(self, within: float = 20.0) -> None:
        """Ready once the IRC server offers ``sasl``, which it does only while the
        services are linked: a real CAP LS probe, repeated until then (bounded)."""
        wait_until(
            self._offers_sasl,
            timeout=within,
            what="link of anope to the IRC server",
            watch=[self.proc] if self.proc else [],
            interval=0.05,
        )

    def _offers_sasl(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.ircd.port), timeout=2) as probe:
            probe.sendall(b"CAP LS 302\r\n")
            data = b""
            with contextlib.suppress(TimeoutError):
                while b"\n" not in data:
                    chunk = probe.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            return b"sasl" in data

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.stop()


def _nobody_uid() -> int:
    return pwd.getpwnam("nobody").pw_uid
