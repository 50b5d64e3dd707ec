"""Where an async Django view's time goes: Django's ``ASGIHandler`` against
Telephonist's ``AsyncViewHandler``, one saving at a time, in one process, no network.

Run it with::

    .venv/bin/python bench/django_async.py [--requests N] [--concurrency C] [--repeat R]

The benchmark project (``bench/webapp``: ``startproject``'s seven middleware, ``GET
/async`` answering 13 bytes) is served in-process by each variant, ``C`` requests at a
time, ``N`` requests per run, runs interleaved; the table has the median CPU time per
request of the whole process (loop and threads) and the thread hops per request:

* ``django``: ``ASGIHandler`` as Daphne and uvicorn call it (a thread started per
  request, a hop per middleware hook, disconnect-listening tasks, the body copied);
* ``django+reused-thread``: the same, but each request's thread taken from a pool;
* ``lean, hooks not merged``: ``AsyncViewHandler`` (threads reused, no extra tasks, the
  body as it is) with Django's chain, a hop per hook, under its first hop;
* ``lean, thread per request``: ``AsyncViewHandler`` with no idle thread kept;
* ``lean``: ``AsyncViewHandler`` as ``DjangoViewConsumer`` runs it.

``bench/http.py`` measures the same views end to end over HTTP against Daphne and uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# bench/http.py would shadow the standard library's ``http``: bench/ off the path, the
# repository on it (for ``bench.webapp``).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.webapp.settings")

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/async",
    "raw_path": b"/async",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"bench")],
    "client": ("127.0.0.1", 40000),
    "server": ("127.0.0.1", 8000),
}
Serve = Callable[[Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


def _variants() -> dict[str, tuple[Serve, int]]:
    from asgiref.sync import ThreadSensitiveContext
    from django.core.handlers.asgi import ASGIHandler

    from telephonist.django.async_handler import AsyncViewHandler, Lanes

    django = ASGIHandler()
    reused = Lanes(256)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def listen() -> dict[str, Any]:
        await asyncio.Event().wait()  # no client leaves
        return {"type": "http.disconnect"}

    def django_receive() -> Callable[[], Awaitable[dict[str, Any]]]:
        calls = iter((receive, listen))
        return lambda: next(calls)()

    async def plain(send: Any) -> None:
        await django(SCOPE, django_receive(), send)

    async def reused_thread(send: Any) -> None:
        lane = reused.take()
        try:
            async with ThreadSensitiveContext(executor=lane):
                await django.handle(SCOPE, django_receive(), send)
        finally:
            reused.give(lane)

    def lean(keep: int, merged: bool = True) -> Serve:
        handler = AsyncViewHandler(Lanes(keep))
        if not merged:  # Django's chain below the first hop: a hop per hook
            handler.hooks.middleware = []
            handler.hooks.inner = handler._middleware_chain
            handler.hooks.reaches_view = False

        async def serve(send: Any) -> None:
            gone = asyncio.get_running_loop().create_future()
            await handler.serve(SCOPE, io.BytesIO(), send, gone)

        return serve

    hooks = sum(
        hasattr(m, h)
        for m in AsyncViewHandler(Lanes(0)).hooks.middleware
        for h in ("process_request", "process_response", "process_view")
    )
    return {
        "django": (plain, hooks + 2),
        "django+reused-thread": (reused_thread, hooks + 2),
        "lean, hooks not merged": (lean(256, merged=False), hooks + 2),
        "lean, thread per request": (lean(0), 2),
        "lean": (lean(256), 2),
    }


async def _run(serve: Serve, requests: int, concurrency: int) -> float:
    """CPU seconds of the process per request."""
    sent = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        sent += message["type"] == "http.response.body"

    async def client(n: int) -> None:
        for _ in range(n):
            await serve(send)

    started = time.process_time()
    per, extra = divmod(requests, concurrency)
    await asyncio.gather(*(client(per + (i < extra)) for i in range(concurrency)))
    used = time.process_time() - started
    assert sent == requests, f"{sent} responses for {requests} requests"
    return used / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import django

    django.setup(set_prefix=False)
    variants = _variants()
    samples: dict[str, list[float]] = {name: [] for name in variants}

    async def measure() -> None:
        for serve, _ in variants.values():  # warm-up: imports, caches, threads
            await _run(serve, 200, args.concurrency)
        for repeat in range(args.repeat):
            order = list(variants) if repeat % 2 == 0 else list(variants)[::-1]
            for name in order:
                samples[name].append(await _run(variants[name][0], args.requests, args.concurrency))

    asyncio.run(measure())
    base = statistics.median(samples["django"])
    print(
        f"GET /async of bench/webapp in-process, {args.requests} requests, "
        f"{args.concurrency} at a time, median of {args.repeat} interleaved runs; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'variant':<26} {'CPU µs/req':>10} {'vs django':>9} {'hops/req':>8}")
    for name, (_, hops) in variants.items():
        cost = statistics.median(samples[name])
        print(f"{name:<26} {cost * 1e6:>10,.0f} {base / cost:>8.2f}x {hops:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
