"""``channel_session`` and ``http_session``: Django sessions for connections.

Theory of operation
-------------------
``@channel_session`` gives each connection (each reply channel) its own Django session,
``message.channel_session``, as in Channels 1: the room a socket joined, the nick an IRC
user picked. Its key is derived from the reply channel with ``SECRET_KEY`` (an HMAC), so
any worker of the project can find it and nobody without the secret can: Channels 1
used a plain hash of the reply channel, and anyone who read a reply channel name in a
log could compute the key and present it as a ``sessionid`` cookie. The key is never
sent anywhere, and a login stored in a channel session is kept under Telephonist's own
names (``.auth``), so even the key itself does not authenticate an HTTP request.

A channel session lives as long as its connection: when the worker releases the
connection (it ended), the row is deleted. Rows the worker cannot account for (its
cache evicted them, or the process died first) expire as any Django session does
(``SESSION_COOKIE_AGE``, removed by ``manage.py clearsessions``).

What changes from Channels 1 is also the cost:

* **Loaded once per connection.** Under connection affinity one worker consumes every
  event of a connection, so the session object is kept in that worker
  (:mod:`.state`) from the first event to the end of the connection: no session read
  per message. A connection's first event (``order == 0``) has no session yet by
  construction (its reply channel is brand new), so not even that first read happens.
* **Saved only when modified**, right after the consumer (write-through, so the
  database always holds the latest state and the cache can be dropped at any time).
  Nothing is written for messages that do not change it, and nothing is written for
  ordering: :func:`enforce_ordering` keeps no state in the session.

``@http_session`` gives a WebSocket consumer the browser's Django session, found by the
session cookie of the WebSocket handshake (``websocket.connect`` carries the headers).
The worker remembers the key for the connection, so later events of the same socket
(``websocket.receive``, which carries no headers) see the same session; it is read
lazily, only if the consumer touches it, and saved if modified.

The session engine is ``settings.SESSION_ENGINE``; it must store sessions server-side
(not ``signed_cookies``: check ``telephonist.W002``).
"""

from __future__ import annotations

import asyncio
import logging
from http.cookies import CookieError, SimpleCookie
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.utils.crypto import salted_hmac

from ..consumers.message import Message
from ..redaction import loggable_channel
from ._decorate import Step, consumer_decorator
from .db import db_call
from .state import connection_state

__all__ = [
    "channel_session",
    "enforce_ordering",
    "http_session",
    "session_for_reply_channel",
    "session_key_for",
]

log = logging.getLogger("telephonist.django.sessions")

_CHANNEL_SESSION = "channel_session"
_HTTP_SESSION_KEY = "http_session_key"
_NEXT_ORDER = "next_order"


def _store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key=session_key)
    return store


_KEY_SALT = "telephonist.django.sessions.channel_session"


def session_key_for(reply_channel: str) -> str:
    """The channel session's key: 32 characters like Django's own, an HMAC of the reply
    channel keyed with ``SECRET_KEY`` (see the module docstring)."""
    digest: str = salted_hmac(_KEY_SALT, reply_channel, algorithm="sha256").hexdigest()
    return "tph" + digest[:29]


def session_for_reply_channel(reply_channel: str) -> SessionBase:
    """The channel session of ``reply_channel`` as stored (for code outside consumers)."""
    return _store(session_key_for(reply_channel))


def _reply_name(message: Message, decorator: str) -> str:
    if message.reply_channel is None:
        raise ValueError(
            f"@{decorator} needs a message with a reply_channel; "
            f"{message.channel.name!r} messages have none"
        )
    return message.reply_channel.name


def save_if_modified(session: SessionBase, key: str | None = None) -> None:
    """Save ``session`` if it changed, under ``key`` when it has none yet."""
    if not session.modified:
        return
    if session.session_key is None and key is not None:
        # A session that was never saved (or not found) gets the key derived from its
        # channel, not a random one: other workers must find it by that key.
        session._session_key = key
        try:
            session.save(must_create=True)
        except CreateError:  # saved meanwhile by someone else: update it
            session.save()
    else:
        try:
            session.save()
        except UpdateError:  # expired and purged since it was loaded: create it again
            session.save(must_create=True)
    # Django leaves ``modified`` set after a save; the cached object must start clean.
    session.modified = False


# -- channel_session ---------------------------------------------------------------------


def _channel_session_before(message: Message) -> object:
    if getattr(message, _CHANNEL_SESSION, None) is not None:
        return None  # an outer decorator attached it and will save it
    name = _reply_name(message, "channel_session")
    session: SessionBase | None = None
    state = connection_state.get(name) if connection_state.holds(name) else None
    if state is not None:
        session = state.get(_CHANNEL_SESSION)
    if session is None:
        # The first event of a connection has no stored session: skip the lookup.
        fresh = message.get("order") == 0
        session = _store(None if fresh else session_key_for(name))
        if state is not None:
            state[_CHANNEL_SESSION] = session
    message.channel_session = session  # type: ignore[attr-defined]
    return session


def _channel_session_after(message: Message, token: object) -> None:
    if isinstance(token, SessionBase):
        save_if_modified(token, session_key_for(_reply_name(message, "channel_session")))


def load_session(token: object) -> None:
    """Read a lazy session store now (see ``Step.load``)."""
    if isinstance(token, SessionBase):
        token.keys()


CHANNEL_SESSION = Step(
    "channel_session", _channel_session_before, _channel_session_after, load_session
)

_deleting: set[asyncio.Task[None]] = set()


def _delete(session_key: str) -> None:
    _store(session_key).delete()


def _end_channel_session(connection: str, entry: dict[str, Any]) -> None:
    """The connection ended: its channel session goes with it (see the module doc)."""
    session = entry.get(_CHANNEL_SESSION)
    key = session.session_key if isinstance(session, SessionBase) else None
    if key is None:
        return  # never saved: nothing stored
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a thread without a loop (tests, a sync caller): delete here
        _delete(key)
        return
    # The worker's loop sends the release: the database is reached from a thread.
    task = loop.create_task(db_call(_delete, key))
    _deleting.add(task)
    task.add_done_callback(_deleted)


def _deleted(task: asyncio.Task[None]) -> None:
    _deleting.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not delete an ended connection's channel session: %r",
                    task.exception())  # fmt: skip


connection_state.on_end(_end_channel_session)

#: Decorator: ``message.channel_session`` is this connection's Django session.
channel_session = consumer_decorator(CHANNEL_SESSION)


# -- http_session ------------------------------------------------------------------------


def _cookie(headers: object, name: str) -> str | None:
    if not isinstance(headers, list | tuple):
        return None
    for pair in headers:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        key, value = (p.decode("latin-1") if isinstance(p, bytes) else str(p) for p in pair)
        if key.lower() != "cookie":
            continue
        try:
            jar: SimpleCookie = SimpleCookie(value)
        except CookieError:
            continue
        if name in jar:
            return jar[name].value
    return None


def _http_session_key(message: Message) -> str | None:
    reply = message.reply_channel.name if message.reply_channel is not None else None
    state = connection_state.get(reply) if reply and connection_state.holds(reply) else None
    if "headers" in message:  # the handshake: the cookie is the truth
        key = _cookie(message.get("headers"), settings.SESSION_COOKIE_NAME)
        if state is not None:
            state[_HTTP_SESSION_KEY] = key
        return key
    return state.get(_HTTP_SESSION_KEY) if state is not None else None


def _http_session_before(message: Message) -> object:
    if getattr(message, "http_session", None) is not None:
        return None
    key = _http_session_key(message)
    # A session store reads nothing until used, so this costs no query by itself.
    session = _store(key) if key else None
    message.http_session = session  # type: ignore[attr-defined]
    return session


def _http_session_after(message: Message, token: object) -> None:
    if isinstance(token, SessionBase) and token.session_key is not None:
        save_if_modified(token)


HTTP_SESSION = Step("http_session", _http_session_before, _http_session_after, load_session)

#: Decorator: ``message.http_session`` is the browser's session (``None`` without one).
http_session = consumer_decorator(HTTP_SESSION)


# -- enforce_ordering --------------------------------------------------------------------


def _ordering_before(message: Message) -> object:
    order: Any = message.get("order")
    reply = message.reply_channel.name if message.reply_channel is not None else None
    if not isinstance(order, int) or not reply or not connection_state.holds(reply):
        return None
    state = connection_state.get(reply)
    expected = state.get(_NEXT_ORDER, 0)
    if order != expected:
        # Under affinity this only happens when a message was lost (the layer is
        # at-most-once) or put back by ConsumeLater. Channels 1 waited for the missing
        # one forever; a guard that never stalls says so and goes on.
        log.warning(
            "event %d of %s arrived where %d was expected (lost or re-queued); consuming it",
            order,
            loggable_channel(reply),
            expected,
        )
    state[_NEXT_ORDER] = max(expected, order + 1)
    return None


def _ordering_after(message: Message, token: object) -> None:
    return None


ENFORCE_ORDERING = Step("enforce_ordering", _ordering_before, _ordering_after)
_ordering = consumer_decorator(ENFORCE_ORDERING)


def enforce_ordering(func: Any = None, *, slight: bool = False) -> Any:
    """Kept for Channels 1 code: ``@enforce_ordering`` and ``@enforce_ordering(slight=True)``.

    Connection affinity already consumes a connection's events in order, so this is a
    guard: it logs an event that arrives out of order and consumes it anyway (it never
    waits, so a lost message cannot stall a connection). ``slight`` is accepted and
    means the same.
    """
    if func is None:
        return _ordering
    return _ordering(func)
