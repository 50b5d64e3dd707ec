"""Paths on the HTTP port that another part of the process serves: ``mount(path, app)``.

Theory of operation
-------------------
Some interfaces need a URL of their own on the web port: the Slack Events API posts
events to ``/slack/events``, an OAuth flow needs its redirect page. They should not
open a port of their own, and their requests should not go through the channel layer
to a worker and back (an Events API request is answered once the event is *on* the
layer). So an interface mounts an ASGI 3 application on a path, and every ``http``
interface of the process hands the requests for that path to it, in-process:

* ``mount("/slack/events", app)`` serves exactly that path; a path ending in ``/``
  (``"/slack/"``) serves every path under it. The longest mounted prefix wins; an
  exact path beats a prefix. Matching is on the raw request path (before
  percent-decoding, without the query string), as this server received it.
* The request has been through every HTTP check first (head limits, smuggling
  checks, declared body size). The app gets a standard ASGI 3 ``http`` scope and
  ``receive``/``send``; the body streams in chunks of at most ``body_chunk_bytes``,
  bounded by ``max_body_bytes`` (413), ``body_timeout`` (408), and the response must
  start within ``response_timeout`` (504). ``send`` validates the reply like any
  consumer's (500 on a malformed one); an exception in the app is a 500 too. When the
  exchange ends early (client gone, a limit, 504) the app is cancelled; after a
  complete response it has ``response_timeout`` seconds to return.
* Mounting is process-wide, like ``register_protocol_policy``: ``mount`` in the
  interface's ``start``, ``unmount`` in its ``stop``. Mounting a path that another app
  holds is an error (two interfaces claiming one URL is a configuration mistake to
  report at start-up, not to resolve silently).

When nothing is mounted, a request costs one emptiness check. This module sits beside
the interfaces, not inside ``interfaces.http``, and imports nothing of Twisted or h11:
an interface mounts without importing the HTTP interface or needing its extra.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["App", "Mounts", "mount", "mounted_paths", "mounts", "unmount"]

#: An ASGI 3 application: ``await app(scope, receive, send)``.
App = Callable[
    [
        dict[str, Any],
        Callable[[], Awaitable[dict[str, Any]]],
        Callable[[dict[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def _key(path: str) -> bytes:
    if not path.startswith("/") or any(c in path for c in "?# ") or not path.isascii():
        raise ValueError(f"mount path {path!r} must be an ASCII path starting with '/'")
    return path.encode("ascii")


class Mounts:
    """A table of mounted paths. ``table`` is read by every request (only when it is
    not empty); it is replaced, never changed in place, so a reader needs no lock."""

    def __init__(self) -> None:
        self.table: dict[bytes, App] = {}
        self._lock = threading.Lock()

    def mount(self, path: str, app: App) -> None:
        key = _key(path)
        with self._lock:
            held = self.table.get(key)
            if held is not None and held is not app:
                raise ValueError(f"path {path!r} is already mounted by {held!r}")
            self.table = {**self.table, key: app}

    def unmount(self, path: str, app: App | None = None) -> None:
        """Stop serving ``path`` (only if ``app`` holds it, when given)."""
        key = _key(path)
        with self._lock:
            held = self.table.get(key)
            if held is None or (app is not None and held is not app):
                return
            self.table = {k: v for k, v in self.table.items() if k != key}

    def find(self, path: bytes) -> App | None:
        """The app serving the raw request ``path``, if any."""
        table = self.table
        app = table.get(path)
        if app is not None:
            return app
        cut = path.rfind(b"/")
        while cut >= 0:
            app = table.get(path[: cut + 1])
            if app is not None:
                return app
            cut = path.rfind(b"/", 0, cut)
        return None

    def paths(self) -> list[str]:
        return sorted(key.decode("ascii") for key in self.table)


#: The process's mounts, served by every ``http`` interface it runs.
mounts = Mounts()
mount = mounts.mount
unmount = mounts.unmount
mounted_paths = mounts.paths
