"""Cheap duration histograms and traffic counts, read at scrape time.

Why not the ``prometheus_client`` types on the hot path: the core must not need that
package, and a labelled ``Histogram.observe`` costs a label lookup and a lock per call.
A :class:`Histogram` here is a fixed list of bucket counts, a running sum and a count;
``observe`` is a ``bisect`` and three additions. ``telephonist status`` and the
``/metrics`` collector (``telephonist.runtime.metrics``) read the same objects, so the
two never disagree.

Observations happen on the process's event loop; a torn read from another thread
(the status socket answers on the loop too) is not possible there. ``snapshot()``
copies, so a reader never sees a list that changes under it.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

__all__ = ["DEFAULT_BUCKETS", "Histogram", "Timings"]

#: Upper bounds in seconds: from a Redis round trip on loopback to a slow consumer.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

#: Histograms one ``Timings`` holds at most: route names come from the routing, but a
#: bound keeps a bug (or a generated route per message) from growing memory forever.
MAX_SERIES = 500


class Histogram:
    """Counts per bucket (``le`` upper bounds, plus +Inf), sum and count of seconds."""

    __slots__ = ("bounds", "count", "counts", "max", "sum")

    def __init__(self, bounds: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.sum += seconds
        if seconds > self.max:
            self.max = seconds

    def quantile(self, q: float) -> float:
        """Upper bound of the bucket holding the ``q`` quantile (``max`` past the last)."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            seen += n
            if seen >= rank:
                return min(bound, self.max)
        return self.max

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe: ``buckets`` as ``[[le, cumulative count], ...]`` (Prometheus' shape)."""
        cumulative = []
        seen = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            seen += n
            cumulative.append([bound, seen])
        return {
            "count": self.count,
            "sum": round(self.sum, 6),
            "max": round(self.max, 6),
            "p50": round(self.quantile(0.5), 6),
            "p99": round(self.quantile(0.99), 6),
            "buckets": cumulative,
        }


class Timings:
    """Histograms by name (a route, a layer operation), at most ``MAX_SERIES`` of them."""

    def __init__(self) -> None:
        self._series: dict[str, Histogram] = {}

    def observe(self, name: str, seconds: float) -> None:
        series = self._series.get(name)
        if series is None:
            if len(self._series) >= MAX_SERIES:
                name = "(other)"
                series = self._series.get(name)
            if series is None:
                series = self._series[name] = Histogram()
        series.observe(seconds)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: series.snapshot() for name, series in list(self._series.items())}
