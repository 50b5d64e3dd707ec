"""Results: samples by (figure, layer, variant), medians, the printed tables and JSON.

Shared by every benchmark script: ``Results`` (samples, medians, JSON), the table
renderer, and ``Check``/``targets_table`` for the verdicts on the project's targets.

A sample is a float, or ``None`` for "did not finish within its cap" (it sorts as
infinitely slow, so a median of ``None`` prints as "> cap"). A failed measurement is an
error string instead; the other layers' figures are still printed.
"""

from __future__ import annotations

import json
import math
import operator
import statistics
import subprocess
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Check",
    "Results",
    "fmt_count",
    "fmt_ms",
    "fmt_ratio",
    "median",
    "median_check",
    "ratio",
    "ratio_check",
    "ratio_checks",
    "render_table",
    "targets_table",
    "telephonist_source",
    "verdict",
]

Sample = float | None


def median(samples: list[Sample]) -> float | None:
    """Median with ``None`` as +inf; ``None`` if there are no samples or the median is +inf."""
    if not samples:
        return None
    value = statistics.median(math.inf if s is None else s for s in samples)
    return None if math.isinf(value) else value


class TooSlow(Exception):
    """A measurement that could not be taken in reasonable time: ``label`` is its table
    cell, the message says why. Not an error, and not retried in later repeats."""

    def __init__(self, label: str, why: str) -> None:
        super().__init__(why)
        self.label = label


@dataclass
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    details: dict[str, list[Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    too_slow: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (label, why)
    missing: dict[str, str] = field(default_factory=dict)  # layer -> why not measured

    @staticmethod
    def key(figure: str, layer: str, variant: str = "") -> str:
        return "/".join(part for part in (figure, layer, variant) if part)

    def add(self, key: str, sample: Sample, detail: Any = None) -> None:
        self.samples.setdefault(key, []).append(sample)
        if detail is not None:
            self.details.setdefault(key, []).append(detail)

    def fail(self, key: str, error: BaseException) -> None:
        if isinstance(error, TooSlow):
            self.too_slow[key] = (error.label, str(error))
        else:
            self.errors[key] = f"{type(error).__name__}: {error or 'no detail'}"

    def failed(self, key: str) -> bool:
        return key in self.errors or key in self.too_slow

    def median(self, key: str) -> float | None:
        return median(self.samples.get(key, []))

    def cell(self, key: str, fmt: Any, capped: str = "") -> str:
        """One table cell: the formatted median, "error", "> cap" or "-" (not measured)."""
        if key in self.errors:
            return "error"
        if key in self.too_slow:
            return self.too_slow[key][0]
        values = self.samples.get(key)
        if not values:
            return "-"
        value = median(values)
        return capped if value is None else str(fmt(value))

    def write_json(self, directory: Path, stamp: str, name: str = "layer") -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}-{stamp}.json"
        medians = {key: median(values) for key, values in self.samples.items()}
        document = {
            "meta": self.meta,
            "medians": medians,
            "samples": self.samples,
            "details": self.details,
            "errors": self.errors,
            "too_slow": {key: why for key, (_, why) in self.too_slow.items()},
            "not_available": self.missing,
        }
        path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
        return path


def fmt_count(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    """Seconds as milliseconds, with sensible precision from 0.01 ms to minutes."""
    ms = value * 1000
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def fmt_ratio(at_least: bool) -> Callable[[float], str]:
    """A ratio with two decimals, rounded away from passing (down for an "at least"
    target, up for an "at most" one), so 2.996x never shows as "3.00x FAIL"."""

    def show(value: float) -> str:
        hundredths = math.floor(value * 100) if at_least else math.ceil(value * 100)
        return f"{hundredths / 100:.2f}x"

    return show


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned numbers, widths from the content."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


@dataclass(frozen=True)
class Check:
    """One target: how to get the measured value from the results, how to show it, the
    target as written, and whether a value meets it."""

    what: str
    value: Callable[[Results], float | None]
    show: Callable[[float], str]
    target: str
    passes: Callable[[float], bool] | None  # None: shown for information, no verdict


def ratio(top: str, bottom: str) -> Callable[[Results], float | None]:
    """The ratio of two keys' medians, for a ``Check``."""

    def value(results: Results) -> float | None:
        a, b = results.median(top), results.median(bottom)
        return a / b if a is not None and b else None

    return value


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


def verdict(target: str) -> Callable[[float], bool] | None:
    """The test a target as written stands for: ``">= 3x"``, ``"<= 1x"``, ``"< 2%"`` (a
    comparison, a bound and a unit the test ignores); ``None`` for ``"(info)"``. Reading it
    from the text keeps the printed target and the verdict from drifting apart."""
    if target == "(info)":
        return None
    comparison, _, bound = target.partition(" ")
    compare = _COMPARISONS[comparison]
    limit = float(bound.rstrip("x%"))
    return lambda value: compare(value, limit)


def ratio_check(
    what: str, top: str, bottom: str, target: str = "(info)", *, higher: bool = True
) -> Check:
    """A ``Check`` on the ratio of two keys' medians; ``higher``: more is better (the
    ratio is rounded down for display), else less is (rounded up)."""
    return Check(what, ratio(top, bottom), fmt_ratio(at_least=higher), target, verdict(target))


def ratio_checks(table: str, higher: Collection[str] = ("rate",)) -> list[Check]:
    """``ratio_check``s from a text table, a target per two lines: what it says, then,
    indented, ``numerator / denominator  field  target``::

        all-in-one vs Daphne, sync view req/s
            http/telephonist-run/sync / http/daphne/sync  rate  >= 3x

    compares the medians of ``http/telephonist-run/sync/rate`` and
    ``http/daphne/sync/rate`` against ``>= 3x``. More is better for the fields in
    ``higher``, less for the others."""
    lines = table.strip("\n").splitlines()
    checks = []
    for what, spec in zip(lines[::2], lines[1::2], strict=True):
        top, slash, bottom, field, *target = spec.split()
        if what[:1].isspace() or not spec[:1].isspace() or slash != "/" or not target:
            raise ValueError(f"target table: cannot read {what!r} / {spec!r}")
        checks.append(
            ratio_check(
                what,
                f"{top}/{field}",
                f"{bottom}/{field}",
                " ".join(target),
                higher=field in higher,
            )
        )
    return checks


def median_check(what: str, key: str, show: Callable[[float], str], target: str) -> Check:
    """A ``Check`` on one key's median."""
    return Check(what, lambda results: results.median(key), show, target, verdict(target))


def targets_table(results: Results, checks: list[Check]) -> str:
    """The verdicts: PASS/FAIL per target, "n/a" where a figure is missing."""
    rows = []
    for check in checks:
        value = check.value(results)
        if value is None:
            rows.append([check.what, "n/a", check.target, "-"])
        elif check.passes is None:
            rows.append([check.what, check.show(value), check.target, ""])
        else:
            verdict = "PASS" if check.passes(value) else "FAIL"
            rows.append([check.what, check.show(value), check.target, verdict])
    return render_table(["Telephonist target", "measured", "target", ""], rows)


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def telephonist_source() -> str:
    """Which Telephonist code is measured: its path, commit, and uncommitted changes."""
    import telephonist

    path = Path(telephonist.__file__).resolve().parent
    head = _git(path, "rev-parse", "--short", "HEAD")
    if head is None:
        return f"telephonist from {path} (not a git checkout)"
    dirty = _git(path, "status", "--porcelain", "--", ".")
    return f"telephonist {head}{' + uncommitted changes' if dirty else ''} from {path}"
