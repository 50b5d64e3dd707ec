"""Prometheus metrics of one process, read from its status snapshot at scrape time.

Why a collector over the snapshot, not counters incremented on the hot path: the
server, the worker, the interfaces and the layer already count what they do (that is
what ``telephonist status`` shows). Incrementing a ``prometheus_client.Counter`` beside
each of them would cost every message twice and could drift from the status output.
So :class:`SnapshotCollector` calls the same ``snapshot()`` that answers ``telephonist
status`` and turns it into metric families when scraped: nothing is added per message,
and status and ``/metrics`` cannot disagree.

The one place that maps status counters to metric names is this module. A counter
someone adds later (an interface's ``host.count("x")``, a layer's ``stats.incr("x")``,
a worker's ``counters["x"]``) appears without touching it, under the generic family
of its owner (``telephonist_interface_counter_total{counter="x"}``, ...); a layer
event with a family of its own is listed in :data:`LAYER_EVENTS`.

Label values that name a process-specific channel are shortened the way logs shorten
them (``telephonist.redaction.loggable_channel``): a reply channel name is how one
reaches a connection, and a scrape is no place to publish it. Per-family series are
bounded (:data:`MAX_SERIES`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..redaction import loggable_channel

__all__ = ["LAYER_EVENTS", "MAX_SERIES", "SnapshotCollector"]

Snapshot = Callable[[], dict[str, Any]]

MAX_SERIES = 500

#: Layer counters that are events, not drops: each gets a family of its own
#: (``telephonist_layer_<name>_total``). Every other layer counter is a drop reason.
LAYER_EVENTS = {
    "reconnects": "times the layer reconnected to its backing store",
    "outages": "times the layer found its backing store unreachable",
}

_P = "telephonist_"


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _counts(value: Any) -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for key, count in list(value.items())[:MAX_SERIES]:
            number = _num(count)
            if number is not None:
                yield str(key), number


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Numeric leaves of an interface's own status, as ``a.b.c`` paths."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))
    else:
        number = _num(value)
        if number is not None:
            yield path, number


def _histogram(family: HistogramMetricFamily, labels: list[str], snap: dict[str, Any]) -> None:
    buckets = [(repr(float(le)), float(n)) for le, n in snap.get("buckets", [])]
    buckets.append(("+Inf", float(snap.get("count", 0))))
    family.add_metric(labels, buckets, float(snap.get("sum", 0.0)))


class SnapshotCollector(Collector):
    """Metric families from ``snapshot()`` (``{"parts": [...], "layer": {...}}``)."""

    def __init__(self, snapshot: Snapshot, role: str) -> None:
        self._snapshot = snapshot
        self._role = role

    def collect(self) -> Iterator[Metric]:
        doc = self._snapshot()
        parts = [p for p in doc.get("parts", []) if isinstance(p, dict)]
        info = GaugeMetricFamily(
            _P + "process_info", "what this process runs (1 per part)", labels=["role", "kind"]
        )
        uptime = GaugeMetricFamily(_P + "process_uptime_seconds", "seconds since start")
        for part in parts:
            info.add_metric([self._role, "server" if part.get("kind") == "host" else "worker"], 1)
        if parts:
            uptime.add_metric([], float(parts[0].get("uptime", 0)))
        yield info
        yield uptime
        servers = [p for p in parts if p.get("kind") == "host"]
        workers = [p for p in parts if p.get("kind") == "worker"]
        yield from self._servers(servers)
        yield from self._workers(workers)
        layer_counters: dict[str, Any] = next(
            (p["layer"] for p in parts if isinstance(p.get("layer"), dict)), {}
        )
        yield from self._layer(doc.get("layer") or {}, layer_counters)

    # -- interface servers ------------------------------------------------------------

    def _servers(self, servers: list[dict[str, Any]]) -> Iterator[Metric]:
        conns = GaugeMetricFamily(
            _P + "interface_connections", "open connections", labels=["interface"]
        )
        events = CounterMetricFamily(
            _P + "interface_events", "events put on the layer", labels=["interface"]
        )
        counters = CounterMetricFamily(
            _P + "interface_counter",
            "an interface's own counters (refusals, limits, ...)",
            labels=["interface", "counter"],
        )
        answers = CounterMetricFamily(
            _P + "interface_answers",
            "answers by code: HTTP status, WebSocket close code",
            labels=["interface", "protocol", "code"],
        )
        state = GaugeMetricFamily(
            _P + "interface_status",
            "numbers of an interface's own status (IRC lag, queued lines, ...)",
            labels=["interface", "key"],
        )
        server = CounterMetricFamily(
            _P + "server_counter",
            "the interface server's counters, drops by reason among them",
            labels=["counter"],
        )
        affinity = GaugeMetricFamily(
            _P + "server_connections", "connections by affinity state", labels=["state"]
        )
        for part in servers:
            for name, iface in (part.get("interfaces") or {}).items():
                conns.add_metric([name], float(iface.get("connections") or 0))
                own = dict(iface.get("counters") or {})
                events.add_metric([name], float(own.pop("events", 0)))
                for key, n in _counts(own):
                    counters.add_metric([name, key], n)
                status = dict(iface.get("status") or {})
                for protocol, key in (("http", "answers"), ("websocket", "closes")):
                    for code, n in _counts(status.pop(key, None)):
                        answers.add_metric([name, protocol, code], n)
                for key, n in list(_leaves(status))[:MAX_SERIES]:
                    state.add_metric([name, key], n)
            for key, n in _counts(part.get("counters")):
                server.add_metric([key], n)
            for key, n in _counts((part.get("affinity") or {}).get("connections")):
                affinity.add_metric([key], n)
        yield from (conns, events, counters, answers, state, server, affinity)

    # -- workers ----------------------------------------------------------------------

    def _workers(self, workers: list[dict[str, Any]]) -> Iterator[Metric]:
        outcomes = CounterMetricFamily(
            _P + "worker_outcomes", "messages handled, by outcome", labels=["outcome"]
        )
        dropped = CounterMetricFamily(
            _P + "worker_dropped", "messages the dispatcher dropped, by reason", labels=["reason"]
        )
        counters = CounterMetricFamily(
            _P + "worker_counter", "the worker's own counters", labels=["counter"]
        )
        held = GaugeMetricFamily(_P + "worker_connections", "connections this worker holds")
        busy = GaugeMetricFamily(_P + "worker_busy", "connections with a consumer running")
        durations = HistogramMetricFamily(
            _P + "consumer_duration_seconds", "consumer run time per route", labels=["route"]
        )
        for part in workers:
            dispatch = part.get("dispatch") or {}
            for key, n in _counts(dispatch.get("outcomes")):
                outcomes.add_metric([key], n)
            for key, n in _counts(dispatch.get("dropped")):
                dropped.add_metric([key], n)
            for key, n in _counts(part.get("counters")):
                counters.add_metric([key], n)
            aff = part.get("affinity") or {}
            held.add_metric([], float(_num(aff.get("connections")) or 0))
            busy.add_metric([], float(_num(aff.get("busy")) or 0))
            for route, snap in list((dispatch.get("timings") or {}).items())[:MAX_SERIES]:
                _histogram(durations, [route], snap)
        yield from (outcomes, dropped, counters, held, busy, durations)

    # -- the layer --------------------------------------------------------------------

    def _layer(self, layer: dict[str, Any], counters: dict[str, Any]) -> Iterator[Metric]:
        dropped = CounterMetricFamily(
            _P + "layer_dropped", "messages the layer refused or lost, by reason", labels=["reason"]
        )
        events = {
            key: CounterMetricFamily(f"{_P}layer_{key}", doc) for key, doc in LAYER_EVENTS.items()
        }
        totals = dict.fromkeys(LAYER_EVENTS, 0.0)
        for key, n in _counts(counters.get("dropped")):
            if key in totals:
                totals[key] = n
            else:
                dropped.add_metric([key], n)
        for key, family in events.items():
            family.add_metric([], totals[key])
        messages = CounterMetricFamily(
            _P + "layer_messages", "messages through this process's layer", labels=["direction"]
        )
        traffic = counters.get("traffic") or {}
        for direction in ("sent", "received"):
            messages.add_metric([direction], float(_num(traffic.get(direction)) or 0))
        seconds = HistogramMetricFamily(
            _P + "layer_operation_seconds",
            "time of layer operations, where the backend measures them",
            labels=["operation"],
        )
        for operation, snap in (counters.get("timings") or {}).items():
            _histogram(seconds, [operation], snap)
        yield dropped
        yield from events.values()
        yield from (messages, seconds)
        reported = GaugeMetricFamily(
            _P + "layer_reports_queues",
            "1 if this backend reports queue depths and group sizes (else those are absent)",
        )
        reported.add_metric([], float("depths" in layer))
        yield reported
        depth = GaugeMetricFamily(
            _P + "layer_queue_depth", "messages waiting per channel", labels=["channel"]
        )
        shortened: dict[str, float] = {}
        for channel, n in _counts(layer.get("depths")):
            label = loggable_channel(channel)  # two names may shorten alike: add them up
            shortened[label] = shortened.get(label, 0.0) + n
        for label, n in shortened.items():
            depth.add_metric([label], n)
        size = GaugeMetricFamily(_P + "layer_group_size", "members per group", labels=["group"])
        for group, n in _counts(layer.get("groups")):
            size.add_metric([group], n)
        yield depth
        yield size
