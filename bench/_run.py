"""The measurement plan: which figure, which layer, in what order, how many times.

Repeats are the outer loop and layers the inner one, rotated each repeat, so a burst of
noise from a neighbour on this shared machine lands on different layers in different
repeats and the medians shrug it off. Every step builds a fresh layer, is bounded by a
timeout, and records an error instead of stopping the run; a step that failed once is not
retried in later repeats (a broken layer should not cost five timeouts).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from _ceiling import ceiling
from _fanout import fan_out, fan_out_listeners, idle_commands
from _flow import round_trip, throughput
from _layers import LayerSpec, fresh_layer
from _report import Results

__all__ = ["FIGURES", "LISTENING", "Config", "Target", "run"]

FIGURES = ("ceiling", "throughput", "round_trip", "fan_out", "idle")
#: Layers whose fan-out is also measured to listeners (``_fanout.fan_out_listeners``).
LISTENING = ("telephonist-memory", "telephonist-redis")
#: Variant name: (batch, process). ``receive_process``: plain ``receive()`` on a process
#: channel (``new_channel()``), the way a Channels consumer reads its ``channel_name``.
VARIANTS = {
    "receive": (False, False),
    "receive_many": (True, False),
    "receive_process": (False, True),
}


@dataclass(frozen=True)
class Config:
    figures: frozenset[str]
    repeat: int = 5
    run_seconds: float = 2.5  # aimed-for length of one throughput run
    probe_messages: int = 1_000
    min_messages: int = 1_000
    max_messages: int = 300_000
    senders: int = 16
    window: int = 64  # under the default capacity (100) of every layer
    rtt_count: int = 2_000
    rtt_discard: int = 50
    fan_sizes: tuple[int, ...] = (1, 100, 1_000, 10_000)
    fan_cap: float = 10.0
    fan_start_limit: float = 10.0  # for starting the waiting receivers (not measured)
    idle_seconds: float = 5.0
    ceiling_requests: tuple[int, int] = (100_000, 1_000_000)  # unpipelined, -P 16
    timeout: float = 120.0  # any one step


@dataclass(frozen=True)
class Target:
    """Where the layers live: the private server (if any) and the benchmark tool."""

    url: str
    port: int | None
    benchmark: str | None


class _Runner:
    """One benchmark run: where the layers live, the settings, and the results so far."""

    def __init__(self, results: Results, where: Target, cfg: Config) -> None:
        self.results = results
        self.where = where
        self.cfg = cfg

    async def step(self, key: str, measure: Callable[[], Awaitable[None]]) -> None:
        """Run one bounded measurement; record an error instead of raising."""
        if self.results.failed(key):
            return
        gc.collect()  # start each step without the previous one's garbage
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.cfg.timeout):
                await measure()
        except TimeoutError as exc:
            if not str(exc):  # asyncio.timeout's own, which says nothing
                exc = TimeoutError(f"step took longer than {self.cfg.timeout:g} s")
            self._fail(key, exc)
        except Exception as exc:
            self._fail(key, exc)
        else:
            print(f"  {key} ({time.monotonic() - start:.1f} s)", file=sys.stderr, flush=True)

    def _fail(self, key: str, exc: Exception) -> None:
        self.results.fail(key, exc)
        print(f"  {key}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    async def throughput(self, key: str, spec: LayerSpec, n: int) -> None:
        cfg = self.cfg
        batch, process = VARIANTS[key.rpartition("/")[2]]
        async with fresh_layer(spec, self.where.url) as layer:
            r = await throughput(
                layer, n, senders=cfg.senders, window=cfg.window, batch=batch, process=process
            )
        detail = {"messages": r.messages, "seconds": r.seconds, "full_retries": r.full_retries}
        self.results.add(key, r.rate, detail)

    async def probe(self, spec: LayerSpec, batch: bool, process: bool) -> int:
        """Messages for one run of about ``cfg.run_seconds``: short runs, four times longer
        each, until one lasts a tenth of that (shorter runs are all warm-up and overhead)."""
        cfg = self.cfg
        n = cfg.probe_messages
        while True:
            async with asyncio.timeout(cfg.timeout), fresh_layer(spec, self.where.url) as layer:
                r = await throughput(
                    layer, n, senders=cfg.senders, window=cfg.window, batch=batch, process=process
                )
            if r.seconds >= cfg.run_seconds / 10 or n >= cfg.max_messages:
                break
            n *= 4
        n = round(r.rate * cfg.run_seconds / cfg.senders) * cfg.senders
        return max(cfg.min_messages, min(cfg.max_messages, n))

    async def round_trip(self, key: str, spec: LayerSpec) -> None:
        async with fresh_layer(spec, self.where.url) as layer:
            samples = await round_trip(layer, self.cfg.rtt_count, discard=self.cfg.rtt_discard)
        samples.sort()
        self.results.add(key + "/p50", samples[len(samples) // 2])
        self.results.add(key + "/p99", samples[min(len(samples) - 1, int(len(samples) * 0.99))])

    async def fan_out(self, key: str, spec: LayerSpec, members: int) -> None:
        async with fresh_layer(spec, self.where.url) as layer:
            r = await fan_out(
                layer, members, cap=self.cfg.fan_cap, start_limit=self.cfg.fan_start_limit
            )
        detail = {"send_returned": r.send_returned, "received": r.received}
        self.results.add(key, r.seconds, detail)
        if r.cpu is not None:
            self.results.add(Results.key("fan_out_cpu", spec.name, str(members)), r.cpu)

    async def fan_out_listeners(self, key: str, spec: LayerSpec, members: int) -> None:
        async with fresh_layer(spec, self.where.url) as layer:
            r = await fan_out_listeners(layer, members, cap=self.cfg.fan_cap)
        detail = {"send_returned": r.send_returned, "received": r.received}
        self.results.add(key, r.seconds, detail)
        if r.cpu is not None:
            self.results.add(Results.key("fan_out_listen_cpu", spec.name, str(members)), r.cpu)

    async def idle(self, key: str, spec: LayerSpec | None) -> None:
        """Commands while idle; ``spec`` None is the control: the server with no layer."""
        port, seconds = self.where.port, self.cfg.idle_seconds
        assert port is not None
        if spec is None:
            calls = await idle_commands(None, port, seconds=seconds)
        else:
            async with fresh_layer(spec, self.where.url) as layer:
                calls = await idle_commands(layer, port, seconds=seconds)
        self.results.add(key, float(sum(calls.values())), calls)

    async def ceiling(self) -> None:
        tool, port = self.where.benchmark, self.where.port
        if tool is None or port is None:
            return
        print("  ceiling", file=sys.stderr, flush=True)
        requests = self.cfg.ceiling_requests
        for mode, n, pipeline in (("unpipelined", requests[0], 1), ("pipelined", requests[1], 16)):
            key = Results.key("ceiling", mode)
            try:
                rates = await asyncio.to_thread(ceiling, tool, port, requests=n, pipeline=pipeline)
            except Exception as exc:
                self.results.fail(key, exc)
                continue
            for test, rate in rates.items():
                self.results.add(f"{key}/{test}", rate)

    async def probe_all(self, specs: list[LayerSpec]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for spec in specs:
            for variant, (batch, process) in VARIANTS.items():
                if batch and not spec.batch:
                    continue
                key = Results.key("throughput", spec.name, variant)
                try:
                    counts[key] = await self.probe(spec, batch, process)
                except Exception as exc:
                    self.results.fail(key, exc)
        self.results.meta["throughput_messages"] = counts
        return counts

    async def one_repeat(self, specs: list[LayerSpec], counts: dict[str, int]) -> None:
        figures = self.cfg.figures
        if "ceiling" in figures:
            await self.ceiling()
        for spec in specs:
            for key, n in counts.items():
                if key.split("/")[1] == spec.name:
                    await self.step(key, partial(self.throughput, key, spec, n))
        if "round_trip" in figures:
            for spec in specs:
                key = Results.key("round_trip", spec.name)
                await self.step(key, partial(self.round_trip, key, spec))
        if "fan_out" in figures:
            for members in self.cfg.fan_sizes:
                for spec in specs:
                    key = Results.key("fan_out", spec.name, str(members))
                    await self.step(key, partial(self.fan_out, key, spec, members))
                    if spec.name in LISTENING:
                        key = Results.key("fan_out_listen", spec.name, str(members))
                        await self.step(key, partial(self.fan_out_listeners, key, spec, members))

    async def idle_all(self, specs: list[LayerSpec]) -> None:
        # A count, not a timing: once is enough. The control shows the server alone is quiet.
        await self.step("idle/(server alone)", partial(self.idle, "idle/(server alone)", None))
        for spec in specs:
            if spec.uses_redis:
                key = Results.key("idle", spec.name)
                await self.step(key, partial(self.idle, key, spec))


async def run(results: Results, specs: list[LayerSpec], where: Target, cfg: Config) -> None:
    """Measure every selected figure of every available layer into ``results``."""
    runner = _Runner(results, where, cfg)
    counts = await runner.probe_all(specs) if "throughput" in cfg.figures else {}
    for repeat in range(cfg.repeat):
        print(f"repeat {repeat + 1}/{cfg.repeat}", file=sys.stderr, flush=True)
        turn = repeat % len(specs) if specs else 0
        await runner.one_repeat(specs[turn:] + specs[:turn], counts)
    if "idle" in cfg.figures and where.port is not None:
        await runner.idle_all(specs)
