"""One request served by a mounted ASGI 3 application instead of the channel layer.

The connection has parsed and checked the request and found its path in the mount
table (``interfaces/mounts.py``). The app runs as a task with a standard ``http``
scope;
``receive`` reads the body through the connection's ``read`` (the same chunk size,
body limit and timeouts as a request sent to the layer) and then reports
``http.disconnect`` once the exchange is over; ``send`` is the exchange's own reply
handler, so the app's response is validated, framed and paced exactly like a
consumer's. The exchange ends the usual ways (response complete, 504, client gone, a
body limit); an app still running when it ends early is cancelled, one that completed
its response gets ``response_timeout`` seconds to return. An exception in the app, or
an app returning before its response is complete, answers 500 (or closes a response
already started).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ...spec.http import DISCONNECT, REQUEST, HTTPScope
from ..mounts import App
from .exchange import Exchange
from .reader import BodyError, Closed

__all__ = ["serve_app"]


_ASGI = {"version": "3.0", "spec_version": "2.3"}

log = logging.getLogger("telephonist.interfaces.http")


def _reap(task: asyncio.Task[None]) -> None:
    # A cancelled app that raised something else on its way out: say so once.
    if not task.cancelled() and task.exception() is not None:
        log.error("mounted app failed after its exchange ended", exc_info=task.exception())


async def serve_app(
    app: App,
    scope: HTTPScope,
    ex: Exchange[Any],
    read: Callable[[], Awaitable[tuple[bytes, bool]]],
    *,
    violation: Callable[[str, str], None],
    response_timeout: float,
) -> None:
    """Run ``app`` for ``ex``'s request; return once the exchange is finished."""
    body_over = False

    async def receive() -> dict[str, Any]:
        nonlocal body_over
        if not body_over and not ex.finished:
            try:
                body, done = await read()
            except BodyError as exc:
                violation(exc.counter, exc.reason)
                ex.fail(exc.status)
            except Closed:
                pass  # the connection is going: its end finishes the exchange
            else:
                body_over = done
                return {"type": REQUEST, "body": body, "more_body": not done}
            body_over = True
        # Shielded: the app being cancelled must not cancel the exchange's future.
        await asyncio.shield(ex.done)
        return {"type": DISCONNECT}

    async def run() -> None:
        await app({"type": "http", "asgi": _ASGI, **scope}, receive, ex.on_reply)

    ex.start_response_timer(response_timeout)
    task = asyncio.get_running_loop().create_task(run())
    try:
        await asyncio.wait((task, ex.done), return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and ex.completed:
            await asyncio.wait((task,), timeout=response_timeout)
    finally:
        if not task.done():
            task.cancel()  # nobody reads what it would still send
            task.add_done_callback(_reap)
    if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
        violation("app_error", f"mounted app failed: {exc!r}")
        log.error("mounted app for %s failed", scope["path"], exc_info=exc)
        ex.fail(500)
    elif not ex.finished:
        violation("bad_reply", "mounted app returned before its response was complete")
        ex.fail(500)
