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

Two rules keep a login the one person's who logged in:

* **Only on connections of one person.** A WebSocket is one browser; an IRC room's
  reply channel is everyone in the room (and a private conversation is whoever holds
  the nick now), a mail's is whoever can write a ``From:``. A login there would log in
  all of them, so ``login()``, ``channel_session_user`` and
  ``channel_session_user_from_http`` raise :class:`SharedConnectionError` for events
  of any channel that is not in :data:`PERSONAL_CHANNELS` (``websocket.*`` and
  ``http.*``; a third-party interface with one-person connections adds its prefix
  with :func:`register_personal_channels`).
* **Not an HTTP login.** The channel session keeps the login under Telephonist's own
  keys (``_telephonist_auth_user_id``...), not Django's ``_auth_user_id``: should its
  key ever be presented as a ``sessionid`` cookie, Django finds no login in it.
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
    "PERSONAL_CHANNELS",
    "SharedConnectionError",
    "alogin",
    "alogout",
    "channel_session_user",
    "channel_session_user_from_http",
    "http_session_user",
    "login",
    "logout",
    "register_personal_channels",
]

_AUTH_KEYS = (auth.SESSION_KEY, auth.BACKEND_SESSION_KEY, auth.HASH_SESSION_KEY)
#: Django's login key -> where a channel session keeps it (see the module docstring).
_CHANNEL_KEYS = {key: f"_telephonist{key}" for key in _AUTH_KEYS}

#: Prefixes of the event channels whose connections belong to one person.
PERSONAL_CHANNELS: list[str] = ["websocket.", "http."]


def register_personal_channels(*prefixes: str) -> None:
    """Declare that events on channels starting with ``prefixes`` come from connections
    of one person each (a third-party interface's), so users may log in on them."""
    for prefix in prefixes:
        if prefix not in PERSONAL_CHANNELS:
            PERSONAL_CHANNELS.append(prefix)


class SharedConnectionError(RuntimeError):
    """A login was attempted on a connection several people share."""


def _require_personal(message: Message, what: str) -> None:
    channel = message.channel.name
    if not any(channel.startswith(prefix) for prefix in PERSONAL_CHANNELS):
        raise SharedConnectionError(
            f"{what} on a {channel!r} event: its reply channel is shared by everyone in "
            "the conversation (an IRC room, the holder of a nick, a mail thread), so a "
            "login there would log all of them in. Users log in on connections of one "
            f"person ({', '.join(p + '*' for p in PERSONAL_CHANNELS)}); see "
            "telephonist.django.auth.register_personal_channels for other interfaces."
        )


class _SessionRequest:
    """The one thing ``django.contrib.auth.get_user`` reads of a request."""

    def __init__(self, session: Any) -> None:
        self.session = session


class _ChannelLogin:
    """A channel session seen with Django's login key names, for ``auth.get_user``
    (which reads the keys, and flushes or cycles the session when the hash is stale)."""

    def __init__(self, session: SessionBase) -> None:
        self._session = session

    def __getitem__(self, key: str) -> Any:
        return self._session[_CHANNEL_KEYS.get(key, key)]

    def __setitem__(self, key: str, value: Any) -> None:
        self._session[_CHANNEL_KEYS.get(key, key)] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self._session.get(_CHANNEL_KEYS.get(key, key), default)

    def flush(self) -> None:  # a stale login (password changed): log the connection out
        for key in _CHANNEL_KEYS.values():
            self._session.pop(key, None)

    def cycle_key(self) -> None:  # the key is derived, not a cookie: nothing to rotate
        pass


def user_from_session(session: SessionBase | None) -> Any:
    """The user logged in to an HTTP (browser) session."""
    if session is None:
        return AnonymousUser()
    return auth.get_user(_SessionRequest(session))


def user_from_channel_session(session: SessionBase | None) -> Any:
    """The user logged in to a channel session."""
    if session is None:
        return AnonymousUser()
    return auth.get_user(_SessionRequest(_ChannelLogin(session)))


def _http_user(message: Message) -> object:
    message.user = user_from_session(getattr(message, "http_session", None))  # type: ignore[attr-defined]
    return None


def _channel_user(message: Message) -> object:
    _require_personal(message, "channel_session_user")
    session = getattr(message, "channel_session", None)
    message.user = user_from_channel_session(session)  # type: ignore[attr-defined]
    return None


def _transfer(message: Message) -> object:
    """Copy the browser's login into the channel session (on the handshake only)."""
    _require_personal(message, "channel_session_user_from_http")
    http: SessionBase | None = getattr(message, "http_session", None)
    channel: SessionBase = message.channel_session  # type: ignore[attr-defined]
    if http is None or "headers" not in message:
        return None
    for key in _AUTH_KEYS:
        value = http.get(key)
        ours = _CHANNEL_KEYS[key]
        if value is None:
            channel.pop(ours, None)
        elif channel.get(ours) != value:
            channel[ours] = value
    return None


def _nothing(message: Message, token: object) -> None:
    return None


_FROM_HTTP = Step("transfer_user", _transfer, _nothing)
_HTTP_USER = Step("user_from_http_session", _http_user, _nothing)
_CHANNEL_USER = Step("user_from_channel_session", _channel_user, _nothing)

#: ``message.user`` from the WebSocket handshake's browser session.
http_session_user = consumer_decorator(HTTP_SESSION, _HTTP_USER)

#: ``message.user`` from the connection's channel session (one-person connections only).
channel_session_user = consumer_decorator(CHANNEL_SESSION, _CHANNEL_USER)

#: On the handshake, the browser's login becomes the connection's; then as above.
channel_session_user_from_http = consumer_decorator(
    HTTP_SESSION, CHANNEL_SESSION, _FROM_HTTP, _CHANNEL_USER
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
    """Log ``user`` in on this connection (its channel session); sets ``message.user``.

    Only on a connection of one person: :class:`SharedConnectionError` otherwise."""
    _require_personal(message, "login()")
    session = _channel_session(message, "login")
    session[_CHANNEL_KEYS[auth.SESSION_KEY]] = user._meta.pk.value_to_string(user)
    session[_CHANNEL_KEYS[auth.BACKEND_SESSION_KEY]] = _backend_of(user, backend)
    session[_CHANNEL_KEYS[auth.HASH_SESSION_KEY]] = user.get_session_auth_hash()
    message.user = user  # type: ignore[attr-defined]
    auth.user_logged_in.send(sender=user.__class__, request=None, user=user)


def logout(message: Message) -> None:
    """Log this connection out: the login leaves its channel session."""
    session = _channel_session(message, "logout")
    user = getattr(message, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        auth.user_logged_out.send(sender=user.__class__, request=None, user=user)
    for key in _CHANNEL_KEYS.values():
        session.pop(key, None)
    message.user = AnonymousUser()  # type: ignore[attr-defined]


async def alogin(message: Message, user: Any, backend: str | None = None) -> None:
    """``login`` for async consumers (its signal receivers may use the database)."""
    await db_call(login, message, user, backend)


async def alogout(message: Message) -> None:
    await db_call(logout, message)
