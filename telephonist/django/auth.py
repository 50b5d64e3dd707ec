"""Users on connections: ``message.user`` from a session, and login/logout helpers.

* ``@http_session_user``: ``message.user`` is the user logged in to the browser session
  of the WebSocket handshake (``AnonymousUser`` without one).
* ``@channel_session_user``: ``message.user`` is the user stored in the connection's
  channel session (by ``login(message, user)`` or by the decorator below).
* ``@channel_session_user_from_http``: on the handshake, copy the browser's login into
  the channel session, then as ``channel_session_user``. Put it on the
  ``websocket.connect`` consumer and ``channel_session_user`` on the others, as in
  Channels 1; under connection affinity the user is then known for every event of the
  socket with no query per message beyond Django's own user lookup.

The user is resolved the way Django resolves a request's (``django.contrib.auth.get_user``
with the session: backend, session auth hash), eagerly, in a thread where database
access is allowed, so an async consumer can read ``message.user`` on the loop.

``login``/``logout`` write to the channel session (they are sync; ``alogin``/``alogout``
for async consumers). They send Django's ``user_logged_in``/``user_logged_out`` signals
with ``request=None``, as Channels does. ``logout`` removes the login and keeps the rest
of the channel session (a chat's room survives a logout).
"""

from __future__ import annotations

from typing import Any

from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase

from ..consumers.message import Message
from ._decorate import Step, consumer_decorator
from .db import db_call
from .sessions import CHANNEL_SESSION, HTTP_SESSION

__all__ = [
    "alogin",
    "alogout",
    "channel_session_user",
    "channel_session_user_from_http",
    "http_session_user",
    "login",
    "logout",
]

_AUTH_KEYS = (auth.SESSION_KEY, auth.BACKEND_SESSION_KEY, auth.HASH_SESSION_KEY)


class _SessionRequest:
    """The one thing ``django.contrib.auth.get_user`` reads of a request."""

    def __init__(self, session: SessionBase) -> None:
        self.session = session


def user_from_session(session: SessionBase | None) -> Any:
    if session is None:
        return AnonymousUser()
    return auth.get_user(_SessionRequest(session))


def _user_from(attribute: str) -> Step:
    def before(message: Message) -> object:
        message.user = user_from_session(getattr(message, attribute, None))  # type: ignore[attr-defined]
        return None

    return Step(f"user_from_{attribute}", before, lambda message, token: None)


def _transfer(message: Message) -> object:
    """Copy the browser's login into the channel session (on the handshake only)."""
    http: SessionBase | None = getattr(message, "http_session", None)
    channel: SessionBase = message.channel_session  # type: ignore[attr-defined]
    if http is None or "headers" not in message:
        return None
    for key in _AUTH_KEYS:
        value = http.get(key)
        if value is None:
            channel.pop(key, None)
        elif channel.get(key) != value:
            channel[key] = value
    return None


_FROM_HTTP = Step("transfer_user", _transfer, lambda message, token: None)

#: ``message.user`` from the WebSocket handshake's browser session.
http_session_user = consumer_decorator(HTTP_SESSION, _user_from("http_session"))

#: ``message.user`` from the connection's channel session.
channel_session_user = consumer_decorator(CHANNEL_SESSION, _user_from("channel_session"))

#: On the handshake, the browser's login becomes the connection's; then as above.
channel_session_user_from_http = consumer_decorator(
    HTTP_SESSION, CHANNEL_SESSION, _FROM_HTTP, _user_from("channel_session")
)


def _channel_session(message: Message, helper: str) -> SessionBase:
    session: SessionBase | None = getattr(message, "channel_session", None)
    if session is None:
        raise ValueError(
            f"{helper}() needs message.channel_session: decorate the consumer with "
            "@channel_session or @channel_session_user"
        )
    return session


def _backend_of(user: Any, backend: str | None) -> str:
    if backend is not None:
        return backend
    chosen = getattr(user, "backend", None)
    if isinstance(chosen, str):
        return chosen
    backends = auth._get_backends(return_tuples=True)
    if len(backends) == 1:
        path: str = backends[0][1]
        return path
    raise ValueError(
        "several authentication backends are configured: pass backend= to login() "
        "or set user.backend (as authenticate() does)"
    )


def login(message: Message, user: Any, backend: str | None = None) -> None:
    """Log ``user`` in on this connection (its channel session); sets ``message.user``."""
    session = _channel_session(message, "login")
    session[auth.SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[auth.BACKEND_SESSION_KEY] = _backend_of(user, backend)
    session[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
    message.user = user  # type: ignore[attr-defined]
    auth.user_logged_in.send(sender=user.__class__, request=None, user=user)


def logout(message: Message) -> None:
    """Log this connection out: the login leaves its channel session."""
    session = _channel_session(message, "logout")
    user = getattr(message, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        auth.user_logged_out.send(sender=user.__class__, request=None, user=user)
    for key in _AUTH_KEYS:
        session.pop(key, None)
    message.user = AnonymousUser()  # type: ignore[attr-defined]


async def alogin(message: Message, user: Any, backend: str | None = None) -> None:
    """``login`` for async consumers (its signal receivers may use the database)."""
    await db_call(login, message, user, backend)


async def alogout(message: Message) -> None:
    await db_call(logout, message)
