"""Where a server's CPU time goes under load: ``py-spy`` attached to each process.

``py-spy record --gil --format raw --threads --nonblocking`` samples, 200 times a
second and without pausing the process, the thread that holds the GIL, and writes one
collapsed stack per line. A Python server process can run Python code on one core at
most, so under load (its CPU near 100% of one core) these samples are exactly where
its capacity goes, whichever thread spends it. We summarise per process:

* GIL share per thread kind: the main thread (the event loop: protocol parsing,
  layer, routing, async consumers) and the other threads (thread pools: sync views),
  in percent of the run: the sum near 100% means the process is GIL-bound;
* by owner: each sample goes to Django if Django's code is on the stack (handler,
  middleware, view: what every server pays), else to the innermost Telephonist module
  on the stack (so h11's parsing counts for ``interfaces/http/protocol.py``, a
  layer's msgpack for ``core/...``), else to the area of the innermost frame
  (``asyncio``, ``twisted``: the event loop itself);
* the functions with most samples where they ran themselves ("self"), and
  Telephonist's own functions with their samples anywhere on the stack ("total").

The raw files stay in ``bench/results/`` for a flame graph (``flamegraph.pl`` or
speedscope both read this format).
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from _report import render_table

from telephonist.testing.processes import Process

__all__ = ["profile_run", "summarize"]

RATE = 200
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
_AREAS = (
    "telephonist/interfaces/http",
    "telephonist/interfaces/websocket",
    "telephonist/interfaces/irc",
    "telephonist/host",
    "telephonist/worker",
    "telephonist/core",
    "telephonist/django",
    "telephonist/routing",
    "telephonist/consumers",
    "telephonist",
    "twisted",
    "autobahn",
    "irc",
    "jaraco",
    "h11",
    "django",
    "asgiref",
    "msgpack",
    "redis",
    "asyncio",
    "concurrent/futures",
)


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise RuntimeError("py-spy not installed (pip install -e '.[bench]')")
    return found


# Paths under the checkout are shown relative to it, wherever it was cloned.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent) + "/"


def _short(path: str) -> str:
    for marker in ("site-packages/", _REPO_ROOT, "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return path.lstrip("/")


def _area(path: str) -> str:
    short = _short(path)
    for area in _AREAS:
        if short.startswith(area + "/") or short.startswith(area + "."):
            return area
    if "/" not in short or short.startswith(".") or short[:1].isdigit():
        return "stdlib: " + short.rsplit("/", 1)[-1]
    return short.split("/", 1)[0]


def _owner(files: list[str]) -> str:
    shorts = [_short(f) for f in files]
    if any(f.startswith(("django/", "asgiref/")) for f in shorts):
        return "django (handler, middleware, view)"
    for short in reversed(shorts):
        if short.startswith("telephonist/") and not short.startswith("telephonist/cli/"):
            return short
    return _area(files[-1]) if files else "?"


def _function(frame: str, with_line: bool) -> tuple[str, str]:
    found = _FRAME.match(frame)
    if not found:
        return frame, ""
    where = _short(found["file"])
    if with_line and found["line"]:
        where += f":{found['line']}"
    return f"{found['func']} ({where})", found["file"]


def summarize(path: Path, seconds: float, top: int = 12) -> str:
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames.pop(0) if frames and frames[0].startswith("thread") else ""
        if not frames:
            continue
        samples += count
        main = thread.endswith("MainThread") or any(f.startswith("<module>") for f in frames[:3])
        threads["main thread (event loop)" if main else "other threads (pools)"] += count
        leaf = _function(frames[-1], with_line=True)[0]
        self_time[leaf] += count
        areas[_owner([_function(f, with_line=False)[1] for f in frames])] += count
        for name in {_function(f, with_line=False)[0] for f in frames}:
            if "(telephonist/" in name:
                total_time[name] += count
    if not samples:
        return f"{path.name}: no samples"
    ticks = RATE * seconds

    def pct(n: int) -> str:
        return f"{100 * n / samples:.1f}"

    lines = [
        f"{path.name}: {samples} samples in {seconds:g} s at {RATE} Hz; GIL held, in % of "
        "the run: " + ", ".join(f"{k} {100 * n / ticks:.0f}%" for k, n in threads.most_common()),
        render_table(
            ["owner", "% of samples"],
            [[a, pct(n)] for a, n in areas.most_common(top)],
        ),
        render_table(
            ["self: function (file:line)", "%"],
            [[f, pct(n)] for f, n in self_time.most_common(top)],
        ),
        render_table(
            ["total: Telephonist function (file)", "%"],
            [[f, pct(n)] for f, n in total_time.most_common(top + 8)],
        ),
    ]
    return "\n\n".join(lines)


def profile_run(pids: list[int], seconds: int, load: Callable[[], object], prefix: Path) -> str:
    """Run ``load`` (about ``seconds`` long) with py-spy attached to every pid; return
    the summary of each process's samples."""
    py_spy = _py_spy()
    prefix.parent.mkdir(parents=True, exist_ok=True)
    spies = []
    try:
        for pid in pids:
            out = prefix.with_name(f"{prefix.name}-{pid}.txt")
            args = [py_spy, "record", "--pid", str(pid), "--duration", str(seconds + 1)]
            args += ["--rate", str(RATE), "--format", "raw", "--output", str(out)]
            args += ["--nonblocking", "--threads", "--gil"]
            spies.append((Process(args, log=out.with_suffix(".log")), out))
        for spy, _ in spies:  # py-spy says so once it has attached
            spy.wait_for_line("Sampling process", timeout=30)
        load()
        parts = []
        for spy, out in spies:
            code = spy.wait(seconds + 30)
            if code != 0 or not out.exists():
                parts.append(f"{out.name}: py-spy failed: {spy.output()[-500:]}")
            else:
                parts.append(summarize(out, seconds))
        return "\n\n".join(parts)
    finally:
        for spy, _ in spies:
            spy.stop()
