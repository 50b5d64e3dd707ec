"""systemd unit files as the tests use them, where no systemd runs.

``systemd-analyze verify`` (from Debian's ``systemd`` package: it needs no running
manager) checks a unit file as systemd would load it: unknown keys, values it cannot
parse (a signal name, a time span), a missing or non-executable ``ExecStart``. It prints
what it ignores and still exits 0, so the check is "it printed nothing".

Then a unit's service is started the way systemd starts it, as far as it matters to the
process: ``ExecStartPre`` and ``ExecStart`` split as systemd splits them (simple quoting
only: the tests fail on anything else rather than guess), in ``WorkingDirectory``, with
systemd's environment for a service (``PATH`` and ``LANG``, the ``*_DIRECTORY``
variables), then ``Environment=`` and ``EnvironmentFile=`` (the files win, as
systemd.exec(5) says), the runtime and state directories created with their modes
(0755 unless the unit says otherwise), and ``%i`` expanded.
Stopping sends ``KillSignal`` and allows ``TimeoutStopSec``.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Unit", "parse_environment_file", "verify"]

# systemd 252's default PATH for services (the "system manager" one).
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TIME = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m)?$")
_SCALE = {None: 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "min": 60.0, "m": 60.0}


def verify(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _unquote(value: str) -> str:
    """A value of an environment file: whole-quoted, or plain without quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        assert value[0] == "'" or not re.search(r'[\\"$`]', inner), f"escapes in {value!r}"
        return inner
    assert not re.search(r"[\"'\\]", value), f"partial quoting in {value!r}: not simulated"
    return value.strip()


def parse_environment_file(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line!r}"
        assert key.isidentifier(), f"not KEY=VALUE: {line!r}"
        env[key] = _unquote(value.strip())
    return env


@dataclass
class Unit:
    path: Path
    sections: dict[str, list[tuple[str, str]]]

    @classmethod
    def load(cls, path: Path) -> Unit:
        sections: dict[str, list[tuple[str, str]]] = {}
        current: list[tuple[str, str]] = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), [])
                continue
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not Key=Value: {line!r}"
            assert not value.endswith("\\"), "continuation lines are not simulated"
            current.append((key.strip(), value.strip()))
        return cls(path, sections)

    def all(self, key: str, section: str = "Service") -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]

    def get(self, key: str, section: str = "Service") -> str | None:
        values = self.all(key, section)
        return values[-1] if values else None

    def _expand(self, value: str, instance: str | None) -> str:
        found = set(re.findall(r"%(.)", value)) - {"%", "i"}
        assert not found, f"specifiers {found} are not simulated"
        assert "%i" not in value or instance is not None, "%i in a unit started without one"
        return value.replace("%i", instance or "").replace("%%", "%")

    def command(self, value: str, instance: str | None = None) -> list[str]:
        assert value[:1] not in "-@:+!", f"command prefixes are not simulated: {value!r}"
        assert "$" not in value, f"variable expansion is not simulated: {value!r}"
        args = shlex.split(self._expand(value, instance))
        assert args, f"no command: {value!r}"
        assert args[0].startswith("/"), f"not an absolute path: {value!r}"
        return args

    def exec_start(self, instance: str | None = None) -> list[str]:
        (value,) = self.all("ExecStart")
        return self.command(value, instance)

    def exec_start_pre(self, instance: str | None = None) -> list[list[str]]:
        return [self.command(v, instance) for v in self.all("ExecStartPre")]

    @property
    def working_directory(self) -> Path:
        value = self.get("WorkingDirectory")
        assert value is not None, "no WorkingDirectory"
        assert value.startswith("/"), "WorkingDirectory must be absolute"
        return Path(value)

    @property
    def kill_signal(self) -> signal.Signals:
        return signal.Signals[self.get("KillSignal") or "SIGTERM"]

    @property
    def timeout_stop(self) -> float:
        value = self.get("TimeoutStopSec") or "90"
        found = _TIME.match(value)
        assert found, f"TimeoutStopSec {value!r} is not simulated"
        return float(found.group(1)) * _SCALE[found.group(2)]

    def environment(self, *, run: Path, state: Path) -> dict[str, str]:
        """The service's environment; ``run`` and ``state`` stand for ``/run`` and
        ``/var/lib`` (where its RuntimeDirectory and StateDirectory are created)."""
        env = {"PATH": SERVICE_PATH, "LANG": "C.UTF-8"}
        for kind, base in (("Runtime", run), ("State", state)):
            names = (self.get(f"{kind}Directory") or "").split()
            mode = int(self.get(f"{kind}DirectoryMode") or "0755", 8)  # systemd's default
            for name in names:
                (base / name).mkdir(parents=True, exist_ok=True)
                (base / name).chmod(mode)
            if names:
                env[f"{kind.upper()}_DIRECTORY"] = ":".join(str(base / n) for n in names)
        for value in self.all("Environment"):
            for assignment in shlex.split(value):
                key, sep, val = assignment.partition("=")
                assert sep, f"not KEY=VALUE in Environment=: {assignment!r}"
                env[key] = val
        for value in self.all("EnvironmentFile"):
            optional = value.startswith("-")
            path = Path(value.removeprefix("-"))
            if optional and not path.exists():
                continue
            env.update(parse_environment_file(path.read_text()))
        return env
