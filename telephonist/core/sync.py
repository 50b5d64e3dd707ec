"""A blocking facade over any layer, for sync code (Django views, scripts, threads).

Why not ``async_to_sync``: it runs each call on whatever loop is at hand, and a layer
that caches connections per loop then holds sockets bound to a loop that is gone
("Event loop is closed", the most reported channels_redis failure). The facade instead
owns one private loop in one daemon thread for its whole life; every call runs there, so
connections are only ever used on the loop that opened them.

Code running for a worker (a sync consumer, a Django view it serves) has a better loop
at hand: the worker's own, where the layer's connections already are. ``home_loop``
publishes it in a context (the Dispatcher does, and the context is copied into the
consumer's thread), and facade calls made there run on it instead.

``sync_layer(layer)`` is the process's one facade per layer: what views, management
commands and shells use with the project's layer,
``sync_layer(get_channel_layer()).group_send(...)``, without a thread per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from .base import BaseChannelLayer
from .codec import Content

__all__ = [
    "SyncLayer",
    "home_loop",
    "pop_home_loop",
    "push_home_loop",
    "release_sync_layer",
    "running_home_loop",
    "sync_layer",
]

T = TypeVar("T")

_home_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar(
    "telephonist_home_loop", default=None
)
_facades: dict[BaseChannelLayer, SyncLayer] = {}
_facades_lock = threading.Lock()


@contextlib.contextmanager
def home_loop(loop: asyncio.AbstractEventLoop | None) -> Iterator[None]:
    """Run facade calls made in this context (and in the threads it is copied into) on
    ``loop``, while it runs, instead of the facade's private loop."""
    token = _home_loop.set(loop)
    try:
        yield
    finally:
        _home_loop.reset(token)


def push_home_loop(loop: asyncio.AbstractEventLoop | None) -> Token[Any]:
    """``home_loop`` without the context manager, for the worker's per-message path
    (a generator-based one costs two frames per message); undo with ``pop_home_loop``."""
    return _home_loop.set(loop)


def pop_home_loop(token: Token[Any]) -> None:
    _home_loop.reset(token)


def running_home_loop() -> asyncio.AbstractEventLoop | None:
    """The ``home_loop`` of this context, if there is one and it is running."""
    loop = _home_loop.get()
    return loop if loop is not None and loop.is_running() else None


class SyncLayer:
    """``SyncLayer(layer).send("chan", {...})``; ``close()`` stops its thread."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        loop = running_home_loop() or self._ensure_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("SyncLayer called from its own loop: await the layer instead")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=main, name="telephonist-sync", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def send(self, channel: str, message: Content) -> None:
        self._run(self.layer.send(channel, message))

    def send_many(self, messages: Sequence[tuple[str, Content]]) -> list[bool]:
        return self._run(self.layer.send_many(messages))

    def receive(self, channel: str, timeout: float | None = None) -> Content:
        """Block for the next message; ``TimeoutError`` after ``timeout`` seconds."""
        return self._run(asyncio.wait_for(self.layer.receive(channel), timeout))

    def new_channel(self, prefix: str = "specific.") -> str:
        return self._run(self.layer.new_channel(prefix))

    def group_add(self, group: str, channel: str) -> None:
        self._run(self.layer.group_add(group, channel))

    def group_discard(self, group: str, channel: str) -> None:
        self._run(self.layer.group_discard(group, channel))

    def group_send(self, group: str, message: Content) -> None:
        self._run(self.layer.group_send(group, message))

    def group_send_many(self, groups: Iterable[str], message: Content) -> None:
        self._run(self.layer.group_send_many(list(groups), message))

    def flush(self) -> None:
        self._run(self.layer.flush())

    def close(self) -> None:
        """Close the layer's connections on the private loop, then stop the thread."""
        with self._start_lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.layer.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def sync_layer(layer: BaseChannelLayer) -> SyncLayer:
    """The process's facade over ``layer``: one per layer, its thread started on first use."""
    with _facades_lock:
        facade = _facades.get(layer)
        if facade is None:
            facade = _facades[layer] = SyncLayer(layer)
        return facade


def release_sync_layer(layer: BaseChannelLayer) -> None:
    """Stop the private loop thread of ``layer``'s facade, if it has one."""
    with _facades_lock:
        facade = _facades.pop(layer, None)
    if facade is not None:
        facade.close()
