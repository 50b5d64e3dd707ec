"""Slack benchmark: events through Socket Mode from the stand-in to an echo listener that
answers with ``chat.postMessage``: Telephonist all-in-one, Telephonist split over Redis,
and Slack Bolt's ``AsyncApp`` with ``AsyncSocketModeHandler``, in one run.

Run it with::

    .venv/bin/python bench/slack.py [--quick] [--repeat N] [--events N] [--window N]
                                    [--rate R] [--paced N] [--only NAME,...]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: slack-bolt). The apps
(``_slackapps.py``) run as processes of their own, started fresh for each run, against a
stand-in (``telephonist.testing.slack``) in this process (``_slackload.py``). Each run:
a warm-up of 200 events, then

* **throughput**: ``--events`` (default 3,000) events with ``--window`` (default 50) in
  flight, each waiting for its reply: events answered per second;
* **latency**: ``--paced`` (default 500) events at ``--rate`` (default 50) per second:
  ack latency and event-to-reply p50/p99, for apps that are not saturated;
* **delivered twice**: events answered more than once, over the whole run (the
  stand-in redelivers an envelope not acknowledged within 3 s, as Slack does); also
  how many were redelivered at all.

Repeats (default 3) interleave the apps, rotated each repeat; the table has medians,
and the ratios to Bolt that issue 12's targets are stated in. The stand-in's CPU is
shown per run (percent of one core): near 100 %, the stand-in is what limits the rate.
Everything goes to ``bench/results/slack-<timestamp>.json``. ``--quick``: one repeat,
1,000 events, 200 paced.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py shadows the standard library's ``http`` for anything imported from a
# script in bench/ (aiohttp imports it): look in bench/ last instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from _procfs import cpu_seconds
from _report import fmt_ms, median
from _servers import find_server_binary, private_server
from _slackapps import APPS, AppSpec, started
from _slackload import BenchStandIn, drive

RESULTS = _HERE / "results"
WARMUP = 200


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_once(spec: AppSpec, redis_url: str | None, args: argparse.Namespace, tag: str
                   ) -> dict[str, Any]:  # fmt: skip
    async with BenchStandIn(ack_timeout=3.0, max_retries=3) as slack:
        slack.populate()
        with contextlib.ExitStack() as stack:
            app = await asyncio.to_thread(
                stack.enter_context,
                started(spec, bot_token=slack.team.bot_token, app_token=slack.app_token,
                        api_url=slack.api_url, redis_url=redis_url),
            )  # fmt: skip
            try:
                await slack.wait_connected(within=60)
                await drive(slack, [f"{tag}-w{i}" for i in range(WARMUP)], window=args.window)
                cpu0 = sum(cpu_seconds(pid) for pid in app.pids)
                burst = await drive(slack, [f"{tag}-b{i}" for i in range(args.events)],
                                    window=args.window)  # fmt: skip
                app_cpu = sum(cpu_seconds(pid) for pid in app.pids) - cpu0
                paced = await drive(slack, [f"{tag}-p{i}" for i in range(args.paced)],
                                    rate=args.rate)  # fmt: skip
                twice = sum(1 for n in slack.reply_counts.values() if n > 1)
                redelivered = sum(
                    1 for d in slack.socket.deliveries.values() if len(d.attempts) > 1
                )
            finally:
                await asyncio.to_thread(stack.close)
    return {
        "app": spec.name, "events_per_s": burst.rate, "burst_unanswered": burst.unanswered,
        "burst_ack_p50": percentile(burst.acks, 0.5),
        "burst_reply_p50": percentile(burst.replies, 0.5),
        "ack_p50": percentile(paced.acks, 0.5), "ack_p99": percentile(paced.acks, 0.99),
        "reply_p50": percentile(paced.replies, 0.5), "reply_p99": percentile(paced.replies, 0.99),
        "paced_unanswered": paced.unanswered, "twice": twice, "redelivered": redelivered,
        "standin_cpu_pct": 100 * burst.standin_cpu / burst.elapsed if burst.elapsed else None,
        "app_cpu_pct": 100 * app_cpu / burst.elapsed if burst.elapsed else None,
        "app_cpu_per_event": app_cpu / max(1, burst.events - burst.unanswered),
    }  # fmt: skip


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{fmt_ms(value)} ms"


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def summarise(runs: list[dict[str, Any]], apps: Sequence[AppSpec]) -> tuple[str, dict[str, Any]]:
    def med(app: str, key: str) -> float | None:
        return median([r[key] for r in runs if r["app"] == app and r.get(key) is not None])

    def total(app: str, key: str) -> int:
        return sum(int(r[key]) for r in runs if r["app"] == app)

    head = ("| app | events/s | ack p50 | ack p99 | event-to-reply p50 | event-to-reply p99 "
            "| delivered twice | redelivered | stand-in CPU | app CPU "
            "| app CPU per event |")  # fmt: skip
    lines = [head, "|" + "---|" * 11]
    table: dict[str, Any] = {}
    for spec in apps:
        n = spec.name
        keys = ("events_per_s", "ack_p50", "ack_p99", "reply_p50", "reply_p99",
                "standin_cpu_pct", "app_cpu_pct", "burst_ack_p50", "burst_reply_p50",
                "app_cpu_per_event")  # fmt: skip
        row: dict[str, Any] = {k: med(n, k) for k in keys}
        row["twice"], row["redelivered"] = total(n, "twice"), total(n, "redelivered")
        row["unanswered"] = total(n, "burst_unanswered") + total(n, "paced_unanswered")
        table[n] = row
        lines.append(
            f"| {n} | {_num(row['events_per_s'])} | {_ms(row['ack_p50'])} | {_ms(row['ack_p99'])} "
            f"| {_ms(row['reply_p50'])} | {_ms(row['reply_p99'])} | {row['twice']} "
            f"| {row['redelivered']} | {_num(row['standin_cpu_pct'], '{:.0f} %')} "
            f"| {_num(row['app_cpu_pct'], '{:.0f} %')} | {_ms(row['app_cpu_per_event'])} |"
        )
    lines.append("")
    lines.append("Under the throughput load (window in flight): ack p50 / event-to-reply p50: " +
                 "; ".join(f"{n}: {_ms(r['burst_ack_p50'])} / {_ms(r['burst_reply_p50'])}"
                           for n, r in table.items()))  # fmt: skip
    bolt = table.get("bolt", {}).get("events_per_s")
    bolt_cpu = table.get("bolt", {}).get("app_cpu_per_event")
    for name in ("telephonist-run", "telephonist-split"):
        mine = table.get(name, {}).get("events_per_s")
        if bolt and mine:
            lines.append(f"{name} events/s / bolt: {mine / bolt:.2f}x")
        cpu = table.get(name, {}).get("app_cpu_per_event")
        if bolt_cpu and cpu:
            lines.append(f"{name} CPU per event / bolt: {cpu / bolt_cpu:.2f}x")
    run = table.get("telephonist-run")
    if run and bolt:
        ratio = (run["events_per_s"] or 0) / bolt
        lines += ["", "targets:",
                  f"- events/s >= 2x Bolt all-in-one: {ratio:.2f}x "
                  f"({'met' if ratio >= 2 else 'NOT met'})"]  # fmt: skip
    for name in ("telephonist-run", "telephonist-split"):
        mine_row: dict[str, Any] | None = table.get(name)
        if mine_row is None:
            continue
        if mine_row["ack_p50"] is not None:
            ok = mine_row["ack_p50"] < 0.005
            lines.append(f"- {name} ack p50 < 5 ms: {_ms(mine_row['ack_p50'])} "
                         f"({'met' if ok else 'NOT met'})")  # fmt: skip
        twice = mine_row["twice"]
        lines.append(f"- {name} delivered twice: {twice} ({'met' if twice == 0 else 'NOT met'})")
    return "\n".join(lines), table


@contextlib.contextmanager
def redis_if(needed: bool) -> Iterator[str | None]:
    if not needed:
        yield None
        return
    binary = find_server_binary()
    if binary is None:
        raise SystemExit("telephonist-split needs valkey-server or redis-server (dev extra)")
    with private_server(binary) as server:
        yield server.url


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, short runs")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved repeats (3)")
    parser.add_argument("--events", type=int, default=None, help="throughput events (3000)")
    parser.add_argument("--window", type=int, default=50, help="events in flight (50)")
    parser.add_argument("--rate", type=float, default=50.0, help="paced events/s (50)")
    parser.add_argument("--paced", type=int, default=None, help="paced events (500)")
    parser.add_argument("--only", default="", help="apps: " + ", ".join(a.name for a in APPS))
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.events = args.events or (1000 if args.quick else 3000)
    args.paced = args.paced or (200 if args.quick else 500)
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = wanted - {a.name for a in APPS}
    if unknown:
        parser.error(f"unknown app(s): {', '.join(sorted(unknown))}")
    args.apps = [a for a in APPS if not wanted or a.name in wanted]
    return args


async def main_async(args: argparse.Namespace) -> int:
    runs: list[dict[str, Any]] = []
    errors: list[str] = []
    with redis_if(any(a.uses_redis for a in args.apps)) as redis_url:
        for turn in range(args.repeat):
            order = args.apps[turn % len(args.apps) :] + args.apps[: turn % len(args.apps)]
            for spec in order:
                print(f"repeat {turn + 1}/{args.repeat}: {spec.name}...", file=sys.stderr,
                      flush=True)  # fmt: skip
                try:
                    runs.append(await run_once(spec, redis_url, args, f"r{turn}"))
                except Exception as exc:  # one app failing does not hide the others
                    errors.append(f"{spec.name} (repeat {turn + 1}): {exc!r}")
                    print(f"  failed: {exc!r}", file=sys.stderr, flush=True)
    text, table = summarise(runs, args.apps)
    print(
        f"\nSlack Socket Mode echo: {args.events} events, window {args.window}; latency at "
        f"{args.rate:g}/s over {args.paced} events; medians of {args.repeat} repeat(s)\n"
    )
    print(text)
    for error in errors:
        print(f"error: {error}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"slack-{time.strftime('%Y%m%d-%H%M%S')}.json"
    meta = {k: v for k, v in vars(args).items() if k != "apps"}
    out.write_text(json.dumps({"options": meta, "runs": runs, "table": table, "errors": errors},
                              indent=2, default=str))  # fmt: skip
    print(f"\nresults: {out}")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(main_async(parse(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
