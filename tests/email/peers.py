"""Private SMTP peers for the outbound tests: a Postfix instance and smtp-sink.

Each runs from its own temp directory on a free loopback port, is ready when a TCP
connect succeeds (never a fixed sleep), and is stopped by the PID we started
(``telephonist.testing.processes``; for Postfix, its own ``postfix -c DIR stop`` first).

Postfix daemons run as the ``postfix`` user, and delivery as ``nobody``: the directory
must be traversable by them, so it is a 0755 ``mkdtemp`` we remove ourselves (pytest's
``tmp_path`` chain is 0700).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from telephonist.testing.processes import Process, ProcessExited, free_port, wait_until
from tests.servers import require_service

__all__ = ["PostfixServer", "SmtpSink", "need_postfix"]

POSTFIX = "/usr/sbin/postfix"
SMTP_SINK = "/usr/sbin/smtp-sink"


def need_postfix() -> None:
    if not (os.path.exists(POSTFIX) and os.path.exists(SMTP_SINK)):
        require_service("postfix and smtp-sink (apt install postfix)")
    if os.geteuid() != 0:
        require_service("root, to run a private postfix instance")
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        require_service("the postfix user (apt install postfix)")


def _private_dir(prefix: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    return directory


@dataclass
class PostfixServer:
    """Accepts mail for every domain on 127.0.0.1:``port`` (STARTTLS offered when a
    certificate is given) and delivers it into the Maildir ``directory/mail/inbox``.
    With ``relayhost`` it instead forwards everything there (and retries, as MTAs do)."""

    cert: str | None = None
    key: str | None = None
    relayhost: str | None = None
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: _private_dir("tph-postfix-"))
    proc: Process | None = None

    @property
    def conf(self) -> Path:
        return self.directory / "conf"

    @property
    def maildir(self) -> Path:
        return self.directory / "mail" / "inbox"

    def _postconf(self, *args: str) -> None:
        subprocess.run(["postconf", "-c", str(self.conf), *args], check=True, timeout=30)

    def start(self) -> PostfixServer:
        d = self.directory
        for sub in ("conf", "queue", "data", "mail"):
            (d / sub).mkdir(exist_ok=True)
        shutil.chown(d / "data", "postfix")
        nobody = pwd.getpwnam("nobody")
        os.chown(d / "mail", nobody.pw_uid, nobody.pw_gid)
        shutil.copy("/etc/postfix/master.cf", self.conf / "master.cf")
        main = {
            "compatibility_level": "3.6",
            "queue_directory": f"{d}/queue",
            "data_directory": f"{d}/data",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "sink.test",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "disable_dns_lookups": "yes",
            "smtp_dns_support_level": "disabled",
            "maillog_file": f"{d}/maillog",
            "maillog_file_prefixes": str(d),
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": "static:all",
            "virtual_mailbox_base": f"{d}/mail",
            "virtual_mailbox_maps": "static:inbox/",
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            # Retry quickly in tests: a deferred mail is tried again within seconds.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }
        if self.relayhost:
            main.update(
                {"relayhost": self.relayhost, "virtual_mailbox_domains": "",
                 "default_transport": "smtp"}
            )  # fmt: skip
        if self.cert and self.key:
            main.update(
                {"smtpd_tls_cert_file": self.cert, "smtpd_tls_key_file": self.key,
                 "smtpd_tls_security_level": "may", "smtpd_tls_received_header": "yes",
                 "smtpd_tls_loglevel": "1"}
            )  # fmt: skip
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        self._postconf("-F", "*/*/chroot = n")
        self._postconf("-MX", "smtp/inet")
        address = f"127.0.0.1:{self.port}"
        self._postconf("-M", f"{address}/inet={address} inet n - n - - smtpd")
        self._postconf("-M", "postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd")
        self.proc = Process([POSTFIX, "-c", str(self.conf), "start-fg"], log=d / "postfix.out")
        try:
            self.proc.wait_for_port(self.port)
        except (ProcessExited, TimeoutError) as exc:
            log = (d / "maillog").read_text() if (d / "maillog").exists() else ""
            self.stop()
            raise RuntimeError(f"postfix did not start: {exc}\n{log[-2000:]}") from exc
        return self

    def flush(self) -> None:
        """Ask the queue manager to retry deferred mail now (``postqueue -f``)."""
        subprocess.run(["postqueue", "-c", str(self.conf), "-f"], check=True, timeout=30)

    def messages(self) -> list[EmailMessage]:
        new = self.maildir / "new"
        files = sorted(new.iterdir()) if new.exists() else []
        return [
            message_from_bytes(f.read_bytes(), _class=EmailMessage, policy=policy.default)  # type: ignore[misc]
            for f in files
        ]

    def wait_messages(self, n: int, timeout: float = 30) -> list[EmailMessage]:
        """Wait until ``n`` messages were delivered (postfix writes them on its own)."""

        def delivered() -> list[EmailMessage] | None:
            found = self.messages()
            return found if len(found) >= n else None

        return wait_until(delivered, timeout=timeout, what=f"{n} delivered messages", interval=0.05)

    def wait_log(self, needle: str, timeout: float = 30) -> None:
        """Wait until the mail log mentions ``needle`` (run it in a thread)."""
        try:
            wait_until(
                lambda: needle in self.log(), timeout=timeout, what=repr(needle), interval=0.05
            )
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}:\n{self.log()[-2000:]}") from None

    def log(self) -> str:
        path = self.directory / "maillog"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            subprocess.run([POSTFIX, "-c", str(self.conf), "stop"], timeout=30, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        if self.proc is not None:
            self.proc.stop()  # at once if postfix stopped itself
        self.proc = None
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class SmtpSink:
    """``smtp-sink`` on 127.0.0.1:``port``: accepts everything (no TLS) unless told to
    fail commands: ``soft=("RCPT",)`` answers 450, ``hard=("RCPT",)`` 5xx. Each accepted
    transaction is dumped to a file in ``directory/dump``."""

    soft: Sequence[str] = ()
    hard: Sequence[str] = ()
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: _private_dir("tph-sink-"))
    proc: Process | None = None

    @property
    def dump(self) -> Path:
        return self.directory / "dump"

    def start(self) -> SmtpSink:
        self.dump.mkdir(exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.dump, nobody.pw_uid, nobody.pw_gid)
        args = [SMTP_SINK, "-a", "-u", "nobody", "-d", f"{self.dump}/%H%M%S."]
        if self.soft:
            args += ["-r", ",".join(self.soft)]
        if self.hard:
            args += ["-f", ",".join(self.hard)]
        args += [f"127.0.0.1:{self.port}", "16"]
        self.proc = Process(args, log=self.directory / "smtp-sink.out")
        self.proc.wait_for_port(self.port)
        return self

    def transactions(self) -> list[bytes]:
        return [f.read_bytes() for f in sorted(self.dump.iterdir())] if self.dump.exists() else []

    def stop(self, remove: bool = True) -> None:
        if self.proc is not None:
            self.proc.stop()
        self.proc = None
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)
