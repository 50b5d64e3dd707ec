"""Where a consumer's sends go, and how one call works from both sync and async code.

This is the plumbing under ``Channel`` and the consumer classes, for the worker (the
Dispatcher runs every consumer in ``consumer_context``) and the test tools; consumers
themselves never import it.

Theory of operation
-------------------
``Channel(name).send(...)`` must work in an async consumer (``await ch.send(...)``), in a
sync consumer running in a worker thread (``ch.send(...)``) and in a plain script. The
send methods therefore always return an awaitable, built by ``perform``:

* on a thread with a running event loop, the coroutine itself: the caller awaits it;
* on any other thread, the call blocks until the layer accepted the message, and the
  awaitable returned is already complete. In a worker thread the call runs on the
  *worker's* loop (``consumer_context`` publishes it as ``core.sync``'s ``home_loop``,
  and the Dispatcher copies the context into the thread): a Redis layer's connections
  belong to that loop, and using them from another one is the classic "attached to a
  different loop" failure. With no worker at all (a script, a shell) it goes through
  the layer's ``sync_layer`` facade, which owns a private loop for exactly that reason;
* except for the in-memory layer, which is thread-safe and never suspends: its
  operations simply run in the calling thread.

So sync code simply calls and async code awaits, and both are correct. The typed faces
(``AsyncChannel``, ``AsyncConsumer``'s helpers, ``SyncConsumer``'s) are built on this.
The layer is the one given explicitly, else the one the Dispatcher set for this
consumer, else the process default (``set_default_layer``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextvars import ContextVar, Token
from typing import Any, Generic, TypeVar

from ..core.base import BaseChannelLayer
from ..core.memory import InMemoryChannelLayer
from ..core.sync import (
    SyncLayer,
    pop_home_loop,
    push_home_loop,
    release_sync_layer,
    running_home_loop,
    sync_layer,
)

__all__ = [
    "Done",
    "consumer_context",
    "get_current_layer",
    "perform",
    "pop_layer",
    "push_layer",
    "release_sync_layer",
    "set_default_layer",
]

T = TypeVar("T")

_current_layer: ContextVar[BaseChannelLayer | None] = ContextVar("telephonist_layer", default=None)
_default_layer: BaseChannelLayer | None = None


class Done(Generic[T]):
    """An awaitable that is already complete: what a blocking send returns."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        yield from ()
        return self.value

    def __repr__(self) -> str:
        return f"<Done {self.value!r}>"


def set_default_layer(layer: BaseChannelLayer | None) -> None:
    """The layer ``Channel(name)``/``Group(name)`` use outside any worker (scripts)."""
    global _default_layer
    _default_layer = layer


def get_current_layer() -> BaseChannelLayer:
    """The layer of the running consumer, else the process default."""
    layer = _current_layer.get() or _default_layer
    if layer is None:
        raise RuntimeError(
            "no channel layer here: pass layer= explicitly (the project's layer is "
            "telephonist.core.layers.get_channel_layer()), run inside a worker, or call "
            "telephonist.consumers.context.set_default_layer(layer) first"
        )
    return layer


def push_layer(layer: BaseChannelLayer) -> Token[BaseChannelLayer | None]:
    """Make ``layer`` current in this context until ``pop_layer(token)``."""
    return _current_layer.set(layer)


def pop_layer(token: Token[BaseChannelLayer | None]) -> None:
    """Undo ``push_layer``; a token from another context (a fixture) is ignored."""
    with contextlib.suppress(ValueError):
        _current_layer.reset(token)


class consumer_context:  # used like the function it was
    """Make ``layer`` (and ``loop`` as the worker loop) current for the block.

    The Dispatcher wraps every consumer call in this; a context copied inside the block
    (``contextvars.copy_context()``) carries both into a thread. A class, not a
    generator-based context manager: it runs once per message, and this costs a third
    of the two generators it replaced.
    """

    __slots__ = ("_layer", "_loop", "_tokens")

    def __init__(
        self, layer: BaseChannelLayer, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self._layer = layer
        self._loop = loop

    def __enter__(self) -> None:
        self._tokens = (_current_layer.set(self._layer), push_home_loop(self._loop))

    def __exit__(self, *exc_info: object) -> None:
        layer_token, loop_token = self._tokens
        pop_home_loop(loop_token)
        _current_layer.reset(layer_token)


def perform(
    layer: BaseChannelLayer,
    coroutine: Callable[[BaseChannelLayer], Coroutine[Any, Any, T]],
    blocking: Callable[[SyncLayer], T],
) -> Awaitable[T]:
    """Run one layer operation the right way for the calling thread (see module doc)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return coroutine(layer)
    if type(layer) is InMemoryChannelLayer:
        # Its state is behind a thread lock and its operations never suspend (see its
        # module doc), so they can run right here: no hop to the loop and back, which
        # is most of a sync consumer's cost per send on the all-in-one path. Exact type
        # only: a subclass may await something that needs a loop.
        return Done(_run_inline(coroutine(layer)))
    loop = running_home_loop()
    if loop is not None:  # a worker thread: straight to the worker's loop
        return Done(asyncio.run_coroutine_threadsafe(coroutine(layer), loop).result())
    return Done(blocking(sync_layer(layer)))


def _run_inline(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        coroutine.send(None)
    except StopIteration as done:
        value: T = done.value
        return value
    coroutine.close()
    raise RuntimeError("an in-memory layer operation suspended outside an event loop")
