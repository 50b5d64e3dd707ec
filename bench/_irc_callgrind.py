"""Instructions per ``!ping`` for the Telephonist IRC bots, under ``valgrind --tool=callgrind``.

``bench/irc.py`` measures time, which the other work on a shared machine moves; this
counts the instructions the bot's processes execute per ping, which it does not (same
code, same inputs, same count, give or take the event loop's batching)::

    .venv/bin/python bench/_irc_callgrind.py [--bots run,split,bare] [--pings N] [--bursts N]

Each bot (``_ircbots.py``'s deployments) is started under callgrind with instrumentation
off, joins its room of a private ngircd, is warmed up like in ``bench/irc.py`` (20
sequential pings, one burst of 200), and then, for each figure, instrumentation is
switched on and the counters zeroed (``callgrind_control``), the pings sent, and the
counters dumped: ``sequential`` (pings one after the other: the latency path, one event
at a time) and ``burst`` (bursts of 2,000 at once: the throughput path). For the split
deployment the interface server's and the worker's counts are printed apart and summed.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import asyncio
import re
import subprocess
import tempfile
import time

from _ircbots import BOTS, READY_LINE, _env, _toml
from _ircd import find_ngircd, private_ircd
from _ircload import LoadClient
from _servers import find_server_binary, private_server

from telephonist.testing.processes import Process

_TOTALS = re.compile(r"^(?:summary|totals): (\d+)", re.M)


def _commands(kind: str, nick: str, room: str) -> list[list[str]]:
    cli = [sys.executable, "-m", "telephonist.cli"]
    if kind == "run":
        return [[*cli, "run"]]
    if kind == "split":
        return [[*cli, "serve"], [*cli, "worker"]]
    if kind == "bare":
        return [[sys.executable, "-m", "bench.ircapp.bare", "127.0.0.1", "{port}", nick, room]]
    raise ValueError(kind)


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=600)


def _dumped(directory: Path, pid: int, before: set[Path]) -> int:
    files = set(directory.glob(f"callgrind.out.{pid}*")) - before
    newest = max(files, key=lambda p: p.stat().st_mtime)
    found = _TOTALS.findall(newest.read_text(errors="replace"))
    return int(found[-1])


async def _bot(kind: str, port: int, redis: str | None, pings: int, bursts: int) -> None:
    room, nick = f"#cg{kind}", f"cg{kind}bot"
    client = LoadClient(f"cgload{kind}", room)
    await client.connect(port)
    with tempfile.TemporaryDirectory(prefix="telephonist-callgrind-") as tmp:
        directory = Path(tmp)
        (directory / "telephonist.toml").write_text(_toml(port, nick, room, redis))
        procs = []
        for i, cmd in enumerate(_commands(kind, nick, room)):
            cmd = [c.replace("{port}", str(port)) for c in cmd]
            vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no"]
            procs.append(
                Process(
                    [*vg, f"--callgrind-out-file={directory}/callgrind.out.%p", *cmd],
                    log=directory / f"process-{i}.log",
                    cwd=directory,
                    env=_env(),
                    new_session=True,
                )
            )
        try:
            for worker in procs[1:]:
                worker.wait_for_line(f"^{READY_LINE}$", timeout=600)
            joined = client.joined(nick)
            await asyncio.wait_for(joined, 600)
            for _ in range(20):
                await client.round_trip(60)
            await client.burst(200, 120)
            pids = [p.pid for p in procs]
            for figure, n in (("sequential", pings), ("burst", 2000 * bursts)):
                for pid in pids:
                    _control("-i", "on", str(pid))
                    _control("-z", str(pid))
                before = set(directory.glob("callgrind.out.*"))  # noqa: ASYNC240 (between figures)
                started = time.monotonic()
                if figure == "sequential":
                    for _ in range(pings):
                        await client.round_trip(60)
                else:
                    for _ in range(bursts):
                        b = await client.burst(2000, 600)
                        if b.answered != b.sent:
                            print(f"  {kind}: burst {b.answered} of {b.sent} answered")
                seconds = time.monotonic() - started
                counts = []
                for pid in pids:
                    _control("-d", str(pid))
                    _control("-i", "off", str(pid))
                    counts.append(_dumped(directory, pid, before))
                each = " + ".join(f"{c / n:,.0f}" for c in counts)
                print(
                    f"{kind:6} {figure:10} {sum(counts) / n:>10,.0f} instructions/ping"
                    + (f" ({each})" if len(counts) > 1 else "")
                    + f"  [{n} pings, {seconds:.1f} s]",
                    flush=True,
                )
        finally:
            for proc in procs:
                proc.stop(timeout=120)
                for line in proc.output().splitlines():
                    if " WARNING " in line or " ERROR " in line:
                        print(f"  {kind}: {line[:300]}")
            await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--bots", default="run,split,bare")
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--bursts", type=int, default=1)
    args = parser.parse_args()
    kinds = [k for k in args.bots.split(",") if k]
    known = {b.kind for b in BOTS}
    if unknown := [k for k in kinds if k not in known]:
        parser.error(f"unknown bots {unknown}")
    binary = find_ngircd()
    if binary is None:
        parser.error("ngircd not found")
    with private_ircd(binary) as ircd:
        for kind in kinds:
            if kind == "split":
                server = find_server_binary()
                assert server is not None, "no valkey-server/redis-server"
                with private_server(server) as redis:
                    asyncio.run(_bot(kind, ircd.port, redis.url, args.pings, args.bursts))
            else:
                asyncio.run(_bot(kind, ircd.port, None, args.pings, args.bursts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
