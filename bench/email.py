"""SMTP benchmark: 8 clients sending mail to a consumer, Telephonist (``acknowledge``
"queued" and "consumed") beside aiosmtpd's bare counting sink, in one run.

Run it with::

    .venv/bin/python bench/email.py [--quick] [--repeat N] [--mails N] [--new N]
                                    [--clients N] [--only NAME,...]

The servers, each a process of its own started fresh for each run:

* ``sink``: aiosmtpd's ``SMTP`` with a handler that counts and answers ``250``
  (``bench/mailapp/sink.py``), the least an aiosmtpd server can do;
* ``queued``: ``telephonist run`` (the email interface and a worker in one process,
  in-memory layer) with ``acknowledge = "queued"``: 250 once the mail is on the layer;
* ``consumed``: the same with ``acknowledge = "consumed"`` (the default): 250 once the
  consumer (``bench/mailapp/consumer.py``, takes the mail and returns) has returned.

Each run: 500 mails of warm-up, then ``--mails`` (20,000) on kept-open connections and
``--new`` (5,000) with a new connection per mail, from ``--clients`` (8) concurrent
clients in this process (``_smtpload.py``). Figures: mails/s, p50/p99 from ``DATA`` to
the final ``250``, the server's CPU per mail, and its RSS after the warm-up and after the
kept-open mails (growth in percent). Repeats (3) are rotated; medians are printed with
the ratios to the sink that issue 16 states its targets in. Everything goes to
``bench/results/email-<timestamp>.json``. ``--quick``: one repeat, 5,000 and 2,000 mails.
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
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from _procfs import cpu_seconds, rss_bytes
from _report import fmt_ms, median, render_table, telephonist_source
from _smtpload import Load, send_mails

from telephonist.testing.processes import Process, free_port

RESULTS = _HERE / "results"
REPO = _HERE.parent
SERVERS = ("sink", "queued", "consumed")
WARMUP = 500


def _toml(acknowledge: str, port: int) -> str:
    return (
        'routing = "bench.mailapp.consumer.routes"\n\n[interfaces.email]\n'
        f'port = {port}\nacknowledge = "{acknowledge}"\nmax_connections = 1000\n'
        'recipients = ["^room-[-a-z0-9_]{1,50}@localhost$"]\n'
    )


@contextlib.contextmanager
def started(name: str, port: int) -> Iterator[Process]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
    env = {**clean, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="telephonist-bench-email-") as tmp:
        cwd = Path(tmp)
        env["TELEPHONIST_STATUS__SOCKET_DIR"] = str(cwd / "status")
        if name == "sink":
            command, ready = [sys.executable, "-m", "bench.mailapp.sink", str(port)], "sink"
        else:
            (cwd / "telephonist.toml").write_text(_toml(name, port))
            command, ready = [sys.executable, "-m", "telephonist.cli", "run"], "telephonist"
        process = Process(command, log=cwd / f"{name}.log", cwd=cwd, env=env, new_session=True)
        try:
            process.wait_for_line(f"^{ready}: ready$", timeout=60)
            yield process
        finally:
            process.stop()


async def _sample_rss(pid: int, peak: list[int]) -> None:
    while True:  # cancelled by the caller when the run ends
        peak[0] = max(peak[0], rss_bytes(pid))
        await asyncio.sleep(0.25)  # a sampling interval, not synchronisation


async def run_once(name: str, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    port = free_port()
    with started(name, port) as server:
        await send_mails(port, WARMUP, clients=args.clients, new_connection=False, tag=tag + "w")
        rss0, cpu0, peak = rss_bytes(server.pid), cpu_seconds(server.pid), [0]
        own0 = time.process_time()  # the clients' CPU: this process is the load
        sampler = asyncio.get_running_loop().create_task(_sample_rss(server.pid, peak))
        try:
            kept = await send_mails(port, args.mails, clients=args.clients,
                                    new_connection=False, tag=tag + "k")  # fmt: skip
        finally:
            sampler.cancel()
        rss1, cpu1, own1 = rss_bytes(server.pid), cpu_seconds(server.pid), time.process_time()
        new = await send_mails(port, args.new, clients=args.clients, new_connection=True,
                               tag=tag + "n")  # fmt: skip
        cpu2, own2 = cpu_seconds(server.pid), time.process_time()
    return {
        "server": name,
        **_figures("kept", kept, cpu1 - cpu0),
        **_figures("new", new, cpu2 - cpu1),
        "kept_client_cpu_per_mail": (own1 - own0) / max(1, kept.sent),
        "new_client_cpu_per_mail": (own2 - own1) / max(1, new.sent),
        "rss_start": rss0, "rss_end": rss1, "rss_peak": max(peak[0], rss1),
        "rss_growth_pct": 100 * (rss1 - rss0) / rss0,
    }  # fmt: skip


def _figures(pattern: str, load: Load, cpu: float) -> dict[str, Any]:
    return {
        f"{pattern}_rate": load.rate, f"{pattern}_p50": load.percentile(0.5),
        f"{pattern}_p99": load.percentile(0.99), f"{pattern}_refused": load.refused,
        f"{pattern}_cpu_per_mail": cpu / max(1, load.sent),
    }  # fmt: skip


def summarise(runs: list[dict[str, Any]], names: Sequence[str]) -> tuple[str, dict[str, Any]]:
    def med(name: str, key: str) -> float | None:
        return median([r[key] for r in runs if r["server"] == name and r.get(key) is not None])

    keys = ("kept_rate", "kept_p50", "kept_p99", "kept_cpu_per_mail", "new_rate", "new_p50",
            "new_p99", "new_cpu_per_mail", "rss_start", "rss_end", "rss_peak",
            "rss_growth_pct")  # fmt: skip
    table = {n: {k: med(n, k) for k in keys} for n in names}
    for n in names:
        table[n]["refused"] = sum(r["kept_refused"] + r["new_refused"]
                                  for r in runs if r["server"] == n)  # fmt: skip

    def cell(value: float | None, kind: str) -> str:
        if value is None:
            return "-"
        if kind == "rate":
            return f"{value:,.0f}"
        if kind == "ms":
            return fmt_ms(value)
        if kind == "us":
            return f"{value * 1e6:,.0f}"
        if kind == "mb":
            return f"{value / 2**20:.1f}"
        return f"{value:+.1f} %"

    header = ["server", "kept mails/s", "p50 ms", "p99 ms", "CPU us/mail", "new-conn mails/s",
              "p50 ms", "p99 ms", "CPU us/mail", "RSS MB start", "end", "peak", "growth",
              "refused"]  # fmt: skip
    kinds = ["rate", "ms", "ms", "us", "rate", "ms", "ms", "us", "mb", "mb", "mb", "pct"]
    rows = [[n, *(cell(table[n][k], kind) for k, kind in zip(keys, kinds, strict=True)),
             str(table[n]["refused"])] for n in names]  # fmt: skip
    lines = [render_table(header, rows), ""]
    # The load generator is this process, on the same 2 cores: if it needed more CPU per
    # mail than a server, the ratios would measure the clients.
    clients = ", ".join(
        f"{n} {1e6 * (med(n, 'kept_client_cpu_per_mail') or 0):,.0f}"
        f"/{1e6 * (med(n, 'new_client_cpu_per_mail') or 0):,.0f}"
        for n in names
    )
    lines += [f"clients' CPU us/mail (kept/new), same client for every server: {clients}", ""]
    sink = table.get("sink")
    for n in ("queued", "consumed"):
        mine = table.get(n)
        if not sink or not mine:
            continue
        parts = []
        for pattern in ("kept", "new"):
            a, b = mine[f"{pattern}_rate"], sink[f"{pattern}_rate"]
            p, q = mine[f"{pattern}_p99"], sink[f"{pattern}_p99"]
            if a and b:
                parts.append(f"{pattern} {a / b:.2f}x mails/s")
            if p and q:
                parts.append(f"{pattern} p99 {p / q:.2f}x")
        lines.append(f"{n} / sink: " + ", ".join(parts))
    lines += ["", "targets (issue 16; acknowledge = queued):"]
    queued = table.get("queued")
    if sink and queued:
        for pattern in ("kept", "new"):
            a, b = queued[f"{pattern}_rate"], sink[f"{pattern}_rate"]
            if a and b:
                verdict = "met" if a / b >= 0.8 else "NOT met"
                lines.append(f"- {pattern}: >= 0.8x the sink's mails/s: {a / b:.2f}x ({verdict})")
            p, q = queued[f"{pattern}_p99"], sink[f"{pattern}_p99"]
            if p and q:
                verdict = "met" if p / q <= 2 else "NOT met"
                lines.append(f"- {pattern}: p99 <= 2x the sink's: {p / q:.2f}x ({verdict})")
    for n in ("queued", "consumed"):
        growth = (table.get(n) or {}).get("rss_growth_pct")
        if growth is not None:
            verdict = "met" if growth < 10 else "NOT met"
            lines.append(f"- {n}: RSS growth over the kept-open mails < 10 %: "
                         f"{growth:+.1f} % ({verdict})")  # fmt: skip
    return "\n".join(lines), table


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer mails")
    parser.add_argument("--repeat", type=int, default=None, help="rotated repeats (3)")
    parser.add_argument("--mails", type=int, default=None, help="kept-open mails (20000)")
    parser.add_argument("--new", type=int, default=None, help="new-connection mails (5000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--only", default="", help="servers: " + ", ".join(SERVERS))
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.mails = args.mails or (5000 if args.quick else 20_000)
    args.new = args.new or (2000 if args.quick else 5000)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(wanted) - set(SERVERS)
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    args.servers = [n for n in SERVERS if not wanted or n in wanted]
    return args


async def main_async(args: argparse.Namespace) -> int:
    runs: list[dict[str, Any]] = []
    errors: list[str] = []
    for turn in range(args.repeat):
        order = args.servers[turn % len(args.servers) :] + args.servers[: turn % len(args.servers)]
        for name in order:
            print(f"repeat {turn + 1}/{args.repeat}: {name}...", file=sys.stderr, flush=True)
            try:
                runs.append(await run_once(name, args, f"r{turn}{name}"))
            except Exception as exc:  # one server failing does not hide the others
                errors.append(f"{name} (repeat {turn + 1}): {exc!r}")
                print(f"  failed: {exc!r}", file=sys.stderr, flush=True)
    text, table = summarise(runs, args.servers)
    print(f"\nSMTP, {args.clients} clients: {args.mails:,} mails on kept-open connections, "
          f"{args.new:,} with a new connection each; medians of {args.repeat} "
          "repeat(s)")  # fmt: skip
    print(f"{telephonist_source()}\n")
    print(text)
    for error in errors:
        print(f"error: {error}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"email-{time.strftime('%Y%m%d-%H%M%S')}.json"
    meta = {k: v for k, v in vars(args).items()}
    out.write_text(json.dumps({"options": meta, "runs": runs, "table": table, "errors": errors},
                              indent=2, default=str))  # fmt: skip
    print(f"\nresults: {out}")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
