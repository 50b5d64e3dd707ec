"""Interrupting a consumer whose client has gone: opt-in, per consumer.

Theory of operation
-------------------
The worker runs a connection's events one at a time (``affinity/worker.py``). When an
*overtaking* event (``http.disconnect``) arrives while the connection's runner is still
at work on an earlier event, the worker calls :func:`interrupt` for that connection, and
then delivers the overtaking event in order, once, like any other.

:func:`interrupt` does nothing unless the running consumer opted in, by running inside
:func:`interruptible` (or, for a whole async consumer, with ``interruptible = True`` on
it or on its class: the Dispatcher enters :func:`interruptible` around it). Then:

* by default the task that entered is cancelled: the consumer sees ``CancelledError``
  where it waits, as an async view does under Django's ``ASGIHandler`` when its client
  leaves. :attr:`Interruptible.interrupted` tells that apart from the worker stopping.
  The worker absorbs that one cancellation and carries on with the connection's queue;
* with ``on_interrupt``, that callback is called instead (on the loop), for code that
  cannot be cancelled: a thread (a sync view's streaming response) stops at its next
  step when told.

Why opt in: cutting a consumer short mid-event is a change of meaning. A consumer
written for strictly serial events may leave half-done state when cancelled; Channels
never cancels one (its ``AsyncHttpConsumer`` learns of the disconnect after ``handle``
returns, and Daphne cancels only at ``application_close_timeout``), Django's handler
does. So only a consumer that says it is ready for it is interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..logging import connection_var

__all__ = ["Interruptible", "interrupt", "interruptible"]


class Interruptible:
    """One consumer's opt-in for one connection: a context manager that arms it while
    the block runs (made by :func:`interruptible`; a class, not a generator: it is on
    the path of every request of ``DjangoViewConsumer``)."""

    __slots__ = ("connection", "interrupted", "on_interrupt", "task")

    def __init__(
        self,
        connection: str | None,
        task: asyncio.Task[Any] | None,
        on_interrupt: Callable[[], None] | None,
    ) -> None:
        self.connection = connection
        #: The task cancelled on interruption (``None`` with ``on_interrupt``).
        self.task = task
        self.on_interrupt = on_interrupt
        #: Set once :func:`interrupt` reached it: the client has gone.
        self.interrupted = False

    def __enter__(self) -> Interruptible:
        if self.connection is not None:
            _armed[self.connection] = self
        return self

    def __exit__(self, *exc: object) -> None:
        name = self.connection
        if name is not None and _armed.get(name) is self:
            del _armed[name]


# Armed consumers by connection (reply channel), in this process. Names are unique per
# connection, and affinity runs one event of a connection at a time, so one per name.
_armed: dict[str, Interruptible] = {}


def interruptible(
    on_interrupt: Callable[[], None] | None = None, *, connection: str | None = None
) -> Interruptible:
    """``with interruptible(): ...``: within the block the consumer may be interrupted
    when its client leaves (see the module docstring). ``connection`` defaults to the
    one of the message being consumed; outside a worker there is none and nothing can
    interrupt the block. Without ``on_interrupt`` it must be entered in the task to
    cancel (on the loop)."""
    name = connection if connection is not None else connection_var.get()
    task = None
    if on_interrupt is None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no loop in this thread: only a callback could stop it
            name = None
    return Interruptible(name, task, on_interrupt)


def interrupt(connection: str) -> Interruptible | None:
    """The client of ``connection`` has gone: interrupt the consumer that opted in, if
    one is running for it. Returns what was interrupted (once: it is disarmed)."""
    entry = _armed.pop(connection, None)
    if entry is None:
        return None
    entry.interrupted = True
    if entry.on_interrupt is not None:
        entry.on_interrupt()
    elif entry.task is not None:
        entry.task.cancel()
    return entry
