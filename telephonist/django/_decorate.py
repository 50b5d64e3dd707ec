"""One mechanism behind every session/user decorator: before and after a consumer.

A decorator here is a pair of sync functions, ``before(message) -> token`` (attach a
session, a user...) and ``after(message, token)`` (save what changed). They may touch
the database, so they run where database code may run:

* around a sync consumer, in its worker thread (the Dispatcher's hooks keep that
  thread's connection healthy, see :mod:`.db`);
* around an async consumer, through :func:`.db.db_call` (a Django-managed thread),
  never on the event loop.

The same decorator applies to all consumer shapes, so Channels 1 code keeps working and
class-based consumers get it too:

* a function consumer ``f(message, **kwargs)`` (``def`` or ``async def``);
* a handler method ``m(self, message, **kwargs)`` of a class-based consumer;
* a class-based consumer itself (``@channel_session class Chat(ChatConsumer)``): its
  ``dispatch`` is wrapped, so every handler and hook (``on_chat``...) sees
  ``self.message.channel_session``.

Decorators nest (``channel_session_user`` is ``channel_session`` plus a user): a
``before`` that finds its attribute already set returns ``None`` and its ``after``
then does nothing, so the outermost one saves, once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..consumers.base import AsyncConsumer, SyncConsumer
from ..consumers.message import Message
from .db import db_call

__all__ = ["Step", "consumer_decorator", "find_message"]

F = TypeVar("F", bound=Callable[..., Any])

Before = Callable[[Message], object]
After = Callable[[Message, object], None]


@dataclass(frozen=True)
class Step:
    """A named before/after pair (the name guards against wrapping a class twice).

    ``load(token)`` reads eagerly what ``before`` left lazy (a session store reads on
    first access): done in the thread for async consumers, whose bodies run on the
    event loop where Django refuses database access.
    """

    name: str
    before: Before
    after: After
    load: Callable[[object], None] | None = None


def find_message(args: tuple[Any, ...]) -> Message:
    """The message of a consumer call, whatever its shape (see the module doc)."""
    first = args[0] if args else None
    if isinstance(first, Message):
        return first
    if isinstance(first, (SyncConsumer, AsyncConsumer)):
        if len(args) > 1 and isinstance(args[1], Message):
            return args[1]
        return first.message
    raise TypeError(
        "a Telephonist session decorator needs a consumer called with a Message "
        f"(consumer(message, ...) or a method of a class-based consumer), got {args!r}"
    )


def _run_sync(steps: tuple[Step, ...], func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args)
        done: list[tuple[Step, object]] = []
        try:
            for step in steps:
                done.append((step, step.before(message)))
            return func(*args, **kwargs)
        finally:
            # Saved even when the consumer raised, as Channels 1 did: what it changed
            # before failing is the connection's state now.
            for step, token in reversed(done):
                step.after(message, token)

    return wrapper


def _run_async(steps: tuple[Step, ...], func: Callable[..., Any]) -> Callable[..., Any]:
    def before_all(message: Message) -> list[tuple[Step, object]]:
        done = [(step, step.before(message)) for step in steps]
        for step, token in done:
            if step.load is not None:
                step.load(token)
        return done

    def after_all(message: Message, done: list[tuple[Step, object]]) -> None:
        for step, token in reversed(done):
            step.after(message, token)

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args)
        done = await db_call(before_all, message)
        try:
            return await func(*args, **kwargs)
        finally:
            await db_call(after_all, message, done)

    return wrapper


ConsumerClass = type[SyncConsumer] | type[AsyncConsumer]


def _wrap_class(cls: ConsumerClass, steps: tuple[Step, ...]) -> ConsumerClass:
    dispatch = cls.dispatch
    marks: frozenset[str] = getattr(dispatch, "_telephonist_steps", frozenset())
    todo = tuple(s for s in steps if s.name not in marks)  # a base class has them already
    if not todo:
        return cls
    run = _run_async if cls.is_async else _run_sync
    wrapped = run(todo, dispatch)
    wrapped._telephonist_steps = marks | {s.name for s in todo}  # type: ignore[attr-defined]
    cls.dispatch = wrapped  # type: ignore[method-assign]
    return cls


def consumer_decorator(*steps: Step) -> Callable[[F], F]:
    """A decorator running ``steps`` around a consumer of any shape."""

    def decorate(target: F) -> F:
        if isinstance(target, type) and issubclass(target, (SyncConsumer, AsyncConsumer)):
            return _wrap_class(target, steps)  # type: ignore[return-value]
        if not callable(target):
            raise TypeError(f"cannot decorate {target!r}: not a consumer")
        if inspect.iscoroutinefunction(target):
            return _run_async(steps, target)  # type: ignore[return-value]
        return _run_sync(steps, target)  # type: ignore[return-value]

    return decorate
