"""IRC benchmark: a bot answering ``!ping`` under Telephonist, Sopel 8 and a bare ``irc`` bot.

Run it with ``make bench-irc`` or::

    .venv/bin/python bench/irc.py [--quick] [--repeat N] [--pings N] [--bursts N]
                                  [--only NAME,...] [--profile]

Needs ``ngircd`` (``scripts/peers/irc.sh`` installs it) and the ``bench`` extra
(``pip install -e '.[bench]'``: Sopel, py-spy). One private ngircd with flood throttling
off (``_ircd.py``) serves the whole run, a private Redis/Valkey server the split
deployment. Each bot (``_ircbots.py``: ``telephonist-run``, ``telephonist-split``,
``sopel``, ``irc-bare``) is started fresh for its turn, joins a room of its own with the
load client (``_ircload.py``), is warmed up (20 pings one after the other, then one
burst of 200: imports, the conversation's binding to a worker, thread pools), and then
measured:

* sequential round trip: ``--pings`` pings (default 300), each sent when the previous
  one's pong has arrived; p50 and p99 of the time from writing ``!ping N`` to reading
  ``pong N``, through ngircd both ways;
* concurrent: bursts of 200 and of 2,000 pings written at once (``--bursts`` of each
  size per turn, default 3), replies/s = pings / time until the last pong; and the CPU
  time the bot's processes used per reply over those bursts (which the load of other
  work on this shared machine moves much less than it moves replies/s).

Repeats (default 3) interleave the bots (repeats outer, bots rotated); the printed
table has medians, then the ratios the targets of issue 16 are stated in. Everything
goes to ``bench/results/irc-<timestamp>.json``, with the warnings Telephonist logged
counted per bot: backpressure stalls (a full inbox paused reading; nothing is lost)
apart from drops (an event or reply given up on) and anything else.

``--profile`` adds, after the measurements of the last repeat, 10 s of bursts of 2,000
pings against each Telephonist deployment with ``py-spy`` attached to each of its
processes, and prints where their CPU time goes (``_profile.py``). ``--only`` takes bot
names and/or figures (``sequential``, ``200``, ``2000``). ``--quick`` is a smoke run:
one repeat, 50 pings, one burst of each size.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py shadows the standard library's ``http`` for anything imported from a
# script in bench/ (Python puts the script's directory first): look in bench/ last.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence

from _ircbots import BOTS, BotSpec, start_bot
from _ircd import find_ngircd, private_ircd
from _ircload import LoadClient
from _procfs import cpu_seconds
from _profile import profile_run
from _report import Check, Results, fmt_count, fmt_ms, fmt_ratio, ratio, render_table, targets_table
from _webrun import RESULTS_DIR, Options, flush, header, log, parse_options, rotated, run_main

from telephonist.testing.processes import Process

FIGURES = ("sequential", "200", "2000")
SIZES = (200, 2000)
RUN, SPLIT, SOPEL, BARE = (b.name for b in BOTS)
JOIN_TIMEOUT = 60.0  # seconds for a started bot to join its room
PING_TIMEOUT = 10.0  # seconds for one sequential pong
BURST_TIMEOUT = 60.0  # seconds for a whole burst to be answered
PACKAGES = ("sopel", "irc", "redis")


async def _joined(client: LoadClient, nick: str, procs: list[Process]) -> None:
    """Until the load client sees ``nick`` join, or a bot process exits."""
    joined = client.joined(nick)
    deadline = time.monotonic() + JOIN_TIMEOUT
    while not joined.done():
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.returncode}{proc.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{nick} did not join within {JOIN_TIMEOUT:g}s")
        await asyncio.wait([joined], timeout=0.05)


async def _warm_up(client: LoadClient) -> None:
    for _ in range(20):
        await client.round_trip(PING_TIMEOUT)
    burst = await client.burst(200, BURST_TIMEOUT)
    if burst.answered != burst.sent:
        raise RuntimeError(f"warm-up burst: {burst.answered} of {burst.sent} answered")


# What Telephonist's processes log under a burst, told apart: a stall (the worker's
# inbox full, reading paused until it has room: backpressure at work, nothing lost) is
# not a drop (an event or a reply given up on, which the "lost" column also counts).
_STALL = "stopped reading:"
_DROPS = ("dropped ", "dropping its connections", "stopped sending heartbeats")


def _log_counts(procs: list[Process]) -> tuple[int, int, int]:
    """(backpressure stalls, drops, other warnings and errors) in the bot's logs."""
    stalls = drops = other = 0
    for proc in procs:
        for line in proc.output().splitlines():
            if " WARNING " not in line and " ERROR " not in line:
                continue
            if _STALL in line:
                stalls += 1
            elif any(mark in line for mark in _DROPS):
                drops += 1
            else:
                other += 1
    return stalls, drops, other


async def _measure_bot(
    results: Results,
    spec: BotSpec,
    client: LoadClient,
    procs: list[Process],
    opts: Options[BotSpec],
) -> None:
    key = Results.key("irc", spec.name)
    pids = [p.pid for p in procs]
    await _warm_up(client)
    if "sequential" in opts.figures:
        times = [await client.round_trip(PING_TIMEOUT) for _ in range(opts.extra["pings"])]
        cuts = statistics.quantiles(times, n=100)
        results.add(f"{key}/p50", statistics.median(times))
        results.add(f"{key}/p99", cuts[98])
        log(f"  {key}: p50 {fmt_ms(statistics.median(times))} ms, p99 {fmt_ms(cuts[98])} ms")
    for size in SIZES:
        if str(size) not in opts.figures:
            continue
        before = sum(cpu_seconds(pid) for pid in pids)
        answered = 0
        for _ in range(opts.extra["bursts"]):
            burst = await client.burst(size, BURST_TIMEOUT)
            answered += burst.answered
            results.add(f"{key}/{size}/rate", burst.rate)
            results.add(f"{key}/{size}/lost", float(burst.sent - burst.answered))
            log(f"  {key}: {size} at once: {burst.rate:,.0f} replies/s ({burst.answered} answered)")
        used = sum(cpu_seconds(pid) for pid in pids) - before
        if answered:
            results.add(f"{key}/{size}/cpu_us", used / answered * 1e6)


async def _turn(
    results: Results,
    spec: BotSpec,
    ircd_port: int,
    redis_url: str | None,
    opts: Options[BotSpec],
    turn: int,
    profile: bool,
) -> None:
    room, nick = f"#bench{turn}", f"{spec.kind}bot{turn}"
    client = LoadClient(f"load{turn}", room)
    await client.connect(ircd_port)
    try:
        with tempfile.TemporaryDirectory(prefix=f"telephonist-bench-{spec.name}-") as tmp:
            procs = start_bot(spec, Path(tmp), ircd_port, nick, room, redis_url)
            try:
                await _joined(client, nick, procs)
                await _measure_bot(results, spec, client, procs, opts)
                if profile and spec.is_telephonist:
                    await _profile(results, spec, client, procs)
            finally:
                if spec.is_telephonist:
                    stalls, drops, other = _log_counts(procs)
                    results.add(f"irc/{spec.name}/stalls", float(stalls))
                    results.add(f"irc/{spec.name}/drops", float(drops))
                    results.add(f"irc/{spec.name}/warnings", float(other))
                for proc in procs:  # the front first: it drains, then the worker
                    proc.stop()
    finally:
        await client.close()


async def _profile(
    results: Results, spec: BotSpec, client: LoadClient, procs: list[Process]
) -> None:
    seconds = 10
    log(f"profile {spec.name} (bursts of 2,000 for {seconds} s, py-spy)")
    loop = asyncio.get_running_loop()

    def load() -> None:
        async def bursts() -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await client.burst(2000, BURST_TIMEOUT)

        asyncio.run_coroutine_threadsafe(bursts(), loop).result()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = await asyncio.to_thread(
        profile_run,
        [p.pid for p in procs],
        seconds,
        load,
        RESULTS_DIR / f"profile-irc-{spec.name}-{stamp}",
    )
    results.meta.setdefault("profiles", {})[spec.name] = report


def _measure(
    results: Results, specs: list[BotSpec], redis_url: str | None, opts: Options[BotSpec]
) -> None:
    binary = find_ngircd()
    if binary is None:
        for spec in specs:
            results.missing[spec.name] = "ngircd not found (apt install ngircd)"
        return
    broken: set[str] = set()
    turn = 0
    with private_ircd(binary) as ircd:
        for repeat in range(opts.repeat):
            log(f"repeat {repeat + 1}/{opts.repeat}")
            for spec in rotated(specs, repeat):
                if spec.name in broken:
                    continue
                turn += 1
                flush(redis_url if spec.uses_redis else None)
                try:
                    last = repeat == opts.repeat - 1
                    profile = bool(opts.extra["profile"]) and last
                    asyncio.run(_turn(results, spec, ircd.port, redis_url, opts, turn, profile))
                except Exception as exc:
                    results.fail(Results.key("irc", spec.name), exc)
                    broken.add(spec.name)
                    log(f"  {spec.name}: {results.errors[Results.key('irc', spec.name)]}")


def _table(results: Results, specs: Sequence[BotSpec], opts: Options[BotSpec]) -> str:
    header_row = ["bot", "p50 ms", "p99 ms"]
    for size in SIZES:
        header_row += [f"{size:,}: replies/s", "µs CPU/reply", "lost"]
    rows = []
    for spec in specs:
        key = Results.key("irc", spec.name)
        if spec.name in results.missing:
            rows.append([spec.name, "not available", *[""] * (len(header_row) - 2)])
            continue
        if key in results.errors:
            rows.append([spec.name, "error", *[""] * (len(header_row) - 2)])
            continue
        row = [spec.name, results.cell(f"{key}/p50", fmt_ms), results.cell(f"{key}/p99", fmt_ms)]
        for size in SIZES:
            lost = sum(s or 0 for s in results.samples.get(f"{key}/{size}/lost", []))
            row += [
                results.cell(f"{key}/{size}/rate", fmt_count),
                results.cell(f"{key}/{size}/cpu_us", lambda v: f"{v:,.0f}"),
                f"{lost:,.0f}",
            ]
        rows.append(row)
    return render_table(header_row, rows)


def _checks() -> list[Check]:
    rate = "irc/{}/{}/rate"
    checks = [
        Check(
            "all-in-one !ping p50",
            lambda r: r.median(f"irc/{RUN}/p50"),
            lambda v: f"{fmt_ms(v)} ms",
            "< 0.3 ms",
            lambda v: v < 0.0003,
        ),
        Check(
            "split !ping p50",
            lambda r: r.median(f"irc/{SPLIT}/p50"),
            lambda v: f"{fmt_ms(v)} ms",
            "< 0.6 ms",
            lambda v: v < 0.0006,
        ),
    ]
    for size in SIZES:
        checks += [
            Check(
                f"split vs Sopel, {size:,} at once, replies/s",
                ratio(rate.format(SPLIT, size), rate.format(SOPEL, size)),
                fmt_ratio(at_least=True),
                ">= 3x",
                lambda v: v >= 3,
            ),
            Check(
                f"all-in-one vs bare irc bot, {size:,} at once, replies/s",
                ratio(rate.format(RUN, size), rate.format(BARE, size)),
                fmt_ratio(at_least=True),
                ">= 0.6x",
                lambda v: v >= 0.6,
            ),
            Check(
                f"all-in-one vs Sopel, {size:,} at once, replies/s",
                ratio(rate.format(RUN, size), rate.format(SOPEL, size)),
                fmt_ratio(at_least=True),
                "(info)",
                None,
            ),
        ]
    checks.append(
        Check(
            "all-in-one vs Sopel, !ping p50",
            ratio(f"irc/{RUN}/p50", f"irc/{SOPEL}/p50"),
            fmt_ratio(at_least=False),
            "(info)",
            None,
        )
    )
    return checks


def _summary(results: Results, opts: Options[BotSpec]) -> str:
    parts = [
        header(results, "Telephonist IRC benchmark"),
        "",
        f"!ping N answered with pong N in one room of a private ngircd (flood limits off "
        f"everywhere); p50/p99: {opts.extra['pings']} pings one after the other; "
        f"replies/s: pings written at once / time to the last pong ({opts.extra['bursts']} "
        "bursts per size per repeat); µs CPU/reply: the bot's processes' CPU time per reply "
        "over those bursts; lost: pings not answered within "
        f"{BURST_TIMEOUT:g} s, all repeats",
        _table(results, opts.servers, opts),
        "",
        targets_table(results, _checks()),
    ]
    for spec in opts.servers:
        counts = {
            what: sum(v or 0 for v in results.samples.get(f"irc/{spec.name}/{what}", []))
            for what in ("stalls", "drops", "warnings")
        }
        if any(counts.values()):
            parts.append(
                f"{spec.name} logged {counts['stalls']:,.0f} backpressure stalls (inbox "
                f"full, reading paused, nothing lost), {counts['drops']:,.0f} drops and "
                f"{counts['warnings']:,.0f} other warnings (see its process log)"
            )
    for name, profile in results.meta.get("profiles", {}).items():
        parts += ["", f"Profile of {name} (bursts of 2,000, py-spy):", profile]
    for name, reason in results.missing.items():
        parts.append(f"not available: {name}: {reason}")
    for key, error in results.errors.items():
        parts.append(f"error: {key}: {error}")
    return "\n".join(parts)


def _ngircd_version() -> str:
    binary = find_ngircd()
    if binary is None:
        return "not found"
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    return (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pings", type=int, help="sequential pings per turn (default 300)")
    parser.add_argument("--bursts", type=int, help="bursts of each size per turn (default 3)")
    parser.add_argument(
        "--profile", action="store_true", help="profile the Telephonist bots with py-spy"
    )
    opts = parse_options(
        parser,
        argv,
        servers=BOTS,
        default_servers=[b.name for b in BOTS],
        figures=FIGURES,
        repeat=3,
        duration=None,  # the figures are counts of pings, not durations
        quick_duration=None,
    )
    opts.extra["pings"] = opts.extra["pings"] or (50 if opts.quick else 300)
    opts.extra["bursts"] = opts.extra["bursts"] or (1 if opts.quick else 3)
    if opts.extra["pings"] < 2 or opts.extra["bursts"] < 1:
        parser.error("--pings must be at least 2 and --bursts at least 1")
    return run_main(
        "irc",
        opts,
        {"ngircd": _ngircd_version()},
        lambda results, specs, url: _measure(results, specs, url, opts),
        lambda results: _summary(results, opts),
        packages=PACKAGES,
    )


if __name__ == "__main__":
    sys.exit(main())
