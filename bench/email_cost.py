"""Instructions per mail of an SMTP server process under ``valgrind --tool=callgrind``:
the load-independent way to compare Telephonist with aiosmtpd's bare sink.

Run it with::

    .venv/bin/python bench/email_cost.py [--mails N] [--new] [--only NAME,...]

Wall-clock ratios on a shared 2-core machine move with everyone else's load; the
instructions a server executes per mail do not (same code, same mails: the same count,
to a fraction of a percent). Each server (``sink``, ``queued``, ``consumed``, as in
``bench/email.py``, same ``_smtpload.py`` clients) starts under callgrind with
instrumentation off; after 200 mails of warm-up it is switched on
(``callgrind_control -i on``), ``--mails`` (300) mails are sent by 8 clients, and the
dump's total divided by the mails is printed, with the ratio to the sink. Only user-space
instructions are counted: the kernel's share (the sockets) is the same for every server.
Under callgrind a server runs about 50 times slower, so each event-loop pass handles
more ready connections than at full speed; every server gets that same treatment.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py shadows the standard library's ``http``: look in bench/ last instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

from _report import render_table
from _smtpload import send_mails

from telephonist.testing.processes import Process, free_port

REPO = _HERE.parent
SERVERS = ("sink", "queued", "consumed")
WARMUP = 200


def _toml(acknowledge: str, port: int) -> str:
    return (
        'routing = "bench.mailapp.consumer.routes"\n\n[interfaces.email]\n'
        f'port = {port}\nacknowledge = "{acknowledge}"\nmax_connections = 1000\n'
        'recipients = ["^room-[-a-z0-9_]{1,50}@localhost$"]\n'
    )


def _total(out: Path) -> int:
    total = 0
    for dump in out.parent.glob(out.name + "*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total


async def _control(pid: int, *args: str) -> None:
    control = await asyncio.create_subprocess_exec(
        "callgrind_control", *args, str(pid), stdout=subprocess.DEVNULL
    )
    if await control.wait() != 0:
        raise RuntimeError(f"callgrind_control {' '.join(args)} failed")


async def measure(name: str, mails: int, new_connection: bool) -> float:
    """Instructions per mail of server ``name``."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="telephonist-bench-cost-") as tmp:
        cwd = Path(tmp)
        env = {**clean, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
        env["TELEPHONIST_STATUS__SOCKET_DIR"] = str(cwd / "status")
        out = cwd / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={out}", sys.executable]  # fmt: skip
        if name == "sink":
            command += ["-m", "bench.mailapp.sink", str(port)]
            ready = "sink"
        else:
            (cwd / "telephonist.toml").write_text(_toml(name, port))
            command += ["-m", "telephonist.cli", "run"]
            ready = "telephonist"
        server = Process(command, log=cwd / "server.log", cwd=cwd, env=env, new_session=True)
        try:
            server.wait_for_line(f"^{ready}: ready$", timeout=600)
            await send_mails(port, WARMUP, new_connection=new_connection, tag="w")
            await _control(server.pid, "-i", "on")
            load = await send_mails(port, mails, new_connection=new_connection, tag="m")
            await _control(server.pid, "-d")
            await _control(server.pid, "-i", "off")  # nothing more counted
            if load.refused:
                raise RuntimeError(f"{name}: {load.refused} mails refused")
            return _total(out) / max(1, load.sent)
        finally:
            server.stop()


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=300, help="mails measured (300)")
    parser.add_argument("--new", action="store_true", help="a new connection per mail")
    parser.add_argument("--only", default="", help="servers: " + ", ".join(SERVERS))
    args = parser.parse_args(argv)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    args.servers = [n for n in SERVERS if not wanted or n in wanted]
    return args


async def main_async(args: argparse.Namespace) -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind (with callgrind_control) is not installed", file=sys.stderr)
        return 2
    counts = {}
    for name in args.servers:
        print(f"{name}...", file=sys.stderr, flush=True)
        counts[name] = await measure(name, args.mails, args.new)
    sink = counts.get("sink")
    rows = [
        [name, f"{count:,.0f}", f"{count / sink:.2f}x" if sink else "-"]
        for name, count in counts.items()
    ]
    pattern = "a new connection per mail" if args.new else "kept-open connections"
    print(f"\nSMTP server instructions per mail (callgrind), 8 clients, {pattern}, "
          f"{args.mails} mails after {WARMUP} of warm-up\n")  # fmt: skip
    print(render_table(["server", "instructions/mail", "/ sink"], rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
