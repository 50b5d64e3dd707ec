"""Database hygiene around consumers, as Django does around requests.

Django opens one database connection per thread and closes it at the end of a request
when it is broken or older than ``CONN_MAX_AGE`` (the ``request_started`` and
``request_finished`` signals). A worker has no requests: its sync consumers run in a
pool of long-lived threads, so without this a connection the server dropped stays
broken in its thread forever, and one past its age is never recycled. The Dispatcher's
``consumer_started``/``consumer_finished`` hooks are sent in the thread that runs the
consumer; this module does there what Django does around a request.

Async consumers run on the event loop, where Django forbids synchronous database calls
(``is_async`` is True for them): the ORM's async API runs its queries in threads that
``sync_to_async`` manages, and ``db_call`` below gives our own decorators the same
hygiene there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, reset_queries

from ..consumers.signals import consumer_finished, consumer_started

__all__ = ["connect_hygiene", "db_call", "disconnect_hygiene"]

T = TypeVar("T")


def _on_started(*, is_async: bool = False, **kwargs: Any) -> None:
    if is_async:
        return
    reset_queries()  # DEBUG's query log is per request in Django: per consumer here
    close_old_connections()


def _on_finished(*, is_async: bool = False, **kwargs: Any) -> None:
    if not is_async:
        close_old_connections()


def connect_hygiene() -> None:
    """Connect the hooks (idempotent; the app does it in ``ready()``)."""
    consumer_started.connect(_on_started)
    consumer_finished.connect(_on_finished)


def disconnect_hygiene() -> None:
    consumer_started.disconnect(_on_started)
    consumer_finished.disconnect(_on_finished)


def _hygienic(func: Callable[..., T], *args: Any) -> T:
    close_old_connections()
    try:
        return func(*args)
    finally:
        close_old_connections()


async def db_call(func: Callable[..., T], *args: Any) -> T:
    """Run sync database code from async code: in Django's thread for sync code
    (``thread_sensitive``), with stale connections closed before and after."""
    result: T = await sync_to_async(_hygienic, thread_sensitive=True)(func, *args)
    return result
