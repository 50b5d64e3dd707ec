"""Reply channels: the interface server's receive side.

Theory of operation
-------------------
Each reply channel has a *runner*: one task that waits on the layer for that channel
and calls its handler with each message, one at a time, in arrival order. Runners are
independent, so a slow handler delays only its own channel; its messages wait on the
layer, where the channel's capacity bounds them and the sending consumer gets
``ChannelFull``. That is the backpressure the design asks for, with nothing unbounded
in between. Why a runner per channel rather than one server loop that demultiplexes:
the layer already is that loop. The Redis layer runs one blocking receive per process
for all of its ``!`` channels and hands each waiting receive its own messages; the
in-memory layer wakes exactly the waiting receiver. An idle runner is a parked future,
so 10,000 idle connections cost memory, not CPU, and a second demultiplexer on top
would add a hop and an unbounded buffer.

The server sometimes has to speak to a handler itself: ``ABORT`` when a connection's
worker is gone. :meth:`ReplyChannels.abort` hands it to the runner, which delivers it
after the handler call in progress (never concurrently with it), interrupting an idle
wait on the layer if need be. After an abort the channel's other messages do not matter.

Inline delivery
---------------
A runner wakes once per message it is handed; a broadcast to a process's 1,000
WebSockets is 1,000 task wake-ups before any frame is written, and measured, the
wake-ups cost as much as the delivery. So where the handler is a plain function (it
never waits: the WebSocket's is) and the layer offers ``listen``
(``core/listeners.py``), the runner is also the channel's *listener*: the layer calls it
with the message in the very pass that delivers it (a group send, the Redis inbox
reader filing a pop), and it runs the handler there. The guarantees hold because the
runner says it is ``ready`` only while it is parked on the layer with nothing in hand,
not closed, with no ``ABORT`` to deliver and nothing left of an earlier call: then the
message it is given is the channel's next one, and no other call of the handler is in
progress (nor can start during it: ``ready`` is false while it runs). Whenever it is not
ready, the layer queues as before, within the channel's capacity, and the runner
receives from there in order. A "plain" handler that returns an awaitable after all (a
lambda around a coroutine) is awaited by the runner before anything else, and the
channel stops listening: the next messages take the ordinary path.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.exceptions import LayerUnavailable
from ..core.listeners import Listener, supports_listen
from ..core.ratelog import RateLimitedLog
from ..interfaces.base import ABORT, ReplyHandler
from ..logging import connection_var, interface_var
from ..redaction import loggable_channel

__all__ = ["ReplyChannels"]

log = logging.getLogger("telephonist.server")
_trouble = RateLimitedLog(log)

_BATCH = 16  # messages taken per layer round trip: amortises Redis, bounds our buffer


class _Listening(Protocol):
    def listen(self, channel: str, listener: Listener) -> bool: ...

    def unlisten(self, channel: str, listener: Listener) -> None: ...


@dataclass(eq=False)
class _Runner:
    name: str
    handler: ReplyHandler
    owner: str
    counters: Counter[str]
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    task: asyncio.Task[None] | None = None
    idle: bool = False  # waiting on the layer: safe to interrupt
    closed: bool = False
    interrupted: bool = False
    abort: Content | None = None
    listening: _Listening | None = None  # the layer, while it may call us (see above)
    calling: bool = False  # an inline handler call is in progress
    pending: Awaitable[None] | None = None  # what an inline call left to await

    @property
    def ready(self) -> bool:
        """The ``Listener`` protocol: the next message may be handled right now."""
        return (
            self.idle
            and not self.calling
            and not self.interrupted
            and not self.closed
            and self.abort is None
            and self.pending is None
        )

    def __call__(self, message: Content) -> None:
        """The layer's inline delivery (a ``Listener``), when it found us ``ready``."""
        if self.closed or self.abort is not None or self.pending is not None:
            # Changed by an earlier call of the same delivery pass: as for a batch.
            self.counters["orphaned"] += 1
            return
        self.calling = True
        try:
            result = self.context.run(self.handler, message)
        except Exception:
            _handler_failed(self, message)
        else:
            if result is not None:  # not a plain handler after all: the runner awaits it
                self.pending = result
                self.stop_listening()
                if self.task is not None and not self.interrupted:
                    self.interrupted = True
                    self.task.cancel()
        finally:
            self.calling = False

    def stop_listening(self) -> None:
        layer, self.listening = self.listening, None
        if layer is not None:
            layer.unlisten(self.name, self)


def _interrupted(runner: _Runner) -> bool:
    return runner.closed or runner.abort is not None


class ReplyChannels:
    """Owns every reply channel of one interface server."""

    def __init__(self, layer: BaseChannelLayer, counters: Counter[str]) -> None:
        self._layer = layer
        self._counters = counters
        self._runners: dict[str, _Runner] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._runners

    def open(self, name: str, handler: ReplyHandler, owner: str) -> None:
        if name in self._runners:
            raise ValueError(f"reply channel {name!r} is already open")
        runner = _Runner(name, handler, owner, self._counters)
        # The runner's own context, for its task and its inline calls alike: every line
        # its handler logs names the connection.
        runner.context.run(_name_connection, owner, name)
        runner.task = asyncio.get_running_loop().create_task(
            self._run(runner), name=f"telephonist-reply:{name}", context=runner.context
        )
        if supports_listen(self._layer) and _plain(handler):
            layer: _Listening = self._layer  # type: ignore[assignment]
            if layer.listen(name, runner):
                runner.listening = layer
        self._runners[name] = runner
        self._tasks.add(runner.task)
        runner.task.add_done_callback(self._tasks.discard)

    def close(self, name: str) -> bool:
        """Stop dispatching to ``name``; ``False`` if it was not open."""
        runner = self._runners.pop(name, None)
        if runner is None:
            return False
        runner.closed = True
        runner.stop_listening()
        self._interrupt(runner)
        return True

    def abort(self, name: str, reason: str) -> None:
        """Deliver ``ABORT`` to the channel's handler, after any call in progress."""
        runner = self._runners.get(name)
        if runner is None or runner.abort is not None:
            return
        runner.abort = {"type": ABORT, "reason": reason}
        self._interrupt(runner)

    def open_by_owner(self) -> Counter[str]:
        return Counter(r.owner for r in self._runners.values())

    async def close_all(self, grace: float = 5.0) -> None:
        """Close every channel; handlers in progress get ``grace`` seconds to return."""
        for name in list(self._runners):
            self.close(name)
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    def _interrupt(self, runner: _Runner) -> None:
        # Only a runner parked on the layer is cancelled; one inside its handler finds
        # the flag when the handler returns, so a handler is never cut off midway.
        if runner.idle and runner.task is not None and not runner.interrupted:
            runner.interrupted = True
            runner.task.cancel()

    async def _run(self, runner: _Runner) -> None:
        while True:
            if runner.pending is not None:  # an inline call's rest: before anything else
                pending, runner.pending = runner.pending, None
                await self._finish(runner, pending)
            if runner.closed:
                return
            if runner.abort is not None:
                message, runner.abort = runner.abort, None
                await self._deliver(runner, message)
                continue
            batch = await self._receive(runner)
            for index, message in enumerate(batch):
                if _interrupted(runner):  # closed or aborted while we delivered
                    self._counters["orphaned"] += len(batch) - index
                    break
                await self._deliver(runner, message)

    async def _receive(self, runner: _Runner) -> list[Content]:
        runner.idle = True
        try:
            return await self._layer.receive_many(runner.name, _BATCH)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not runner.interrupted or task is None:
                raise
            # Our own interrupt (abort or close), not a shutdown: swallow it.
            task.uncancel()
            return []
        except LayerUnavailable as exc:  # an outage: the layer logs it itself
            where = loggable_channel(runner.name)
            _trouble.warning("receive", "receive on %s failed: %s", where, exc)
            self._counters["receive_errors"] += 1
            await asyncio.sleep(0.1)  # back off: a persistent error must not spin
            return []
        except Exception:
            # The layer retries and reconnects internally; an error that still reaches
            # us is logged and the runner carries on rather than going deaf silently.
            log.exception("receive on %s failed", loggable_channel(runner.name))
            self._counters["receive_errors"] += 1
            await asyncio.sleep(0.1)  # back off: a persistent error must not spin
            return []
        finally:
            runner.idle = False
            runner.interrupted = False

    async def _deliver(self, runner: _Runner, message: Content) -> None:
        try:
            result = runner.handler(message)
            if result is not None:
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            _handler_failed(runner, message)

    async def _finish(self, runner: _Runner, pending: Awaitable[None]) -> None:
        try:
            await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            _handler_failed(runner, None)


def _plain(handler: ReplyHandler) -> bool:
    """Whether ``handler`` looks like a plain function (a guess: one that returns an
    awaitable after all is still served right, see the module docstring)."""
    call = getattr(handler, "__call__", None)  # noqa: B004 (an instance's async __call__)
    return not (inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call))


def _name_connection(owner: str, name: str) -> None:
    interface_var.set(owner)
    connection_var.set(name)


def _handler_failed(runner: _Runner, message: Content | None) -> None:
    runner.counters["handler_errors"] += 1
    log.exception(
        "reply handler of %s failed on %r",
        runner.name,
        None if message is None else message.get("type"),
        extra={"interface": runner.owner},
    )
