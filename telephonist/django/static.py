"""Static files for ``runserver`` in DEBUG, as Django's own ``runserver`` serves them.

``runserver`` and ``runworker`` route ``http.request`` messages under ``STATIC_URL``
here before the project's routing. Files are found by the staticfiles finders (the app
directories and ``STATICFILES_DIRS``, no ``collectstatic`` needed) and streamed in
bounded chunks.
Development only, like Django's: in production a web server or CDN serves them.
"""

from __future__ import annotations

import email.utils
import mimetypes
import posixpath
import re
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from ..consumers.http import HttpConsumer
from ..routing import Route, route
from ..spec.http import REQUEST

__all__ = ["StaticFilesConsumer", "static_prefix", "static_route"]

_CHUNK = 64 * 1024


def static_prefix() -> str | None:
    """The URL path static files are served under, or None (not a local path)."""
    from django.conf import settings

    url: str | None = getattr(settings, "STATIC_URL", None)
    if not url or urlparse(url).netloc:
        return None  # a CDN or another host: nothing to serve here
    path = urlparse(url).path
    path = path if path.startswith("/") else "/" + path
    return path if path.endswith("/") else path + "/"


def _text(status: int, text: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    return status, text.encode(), [(b"content-type", b"text/plain; charset=utf-8")]


class StaticFilesConsumer(HttpConsumer):
    """Serves ``GET``/``HEAD`` of files the staticfiles finders know."""

    channels: ClassVar[tuple[str, ...]] = (REQUEST,)

    def handle(self, body: bytes) -> None:
        from django.contrib.staticfiles import finders

        method = self.message.get("method", "GET")
        prefix = static_prefix() or "/"
        relative = posixpath.normpath(str(self.message.get("path", ""))[len(prefix) :]).lstrip("/")
        if method not in ("GET", "HEAD"):
            self.send_response(*_text(405, "Method Not Allowed"))
            return
        found = finders.find(relative) if relative and not relative.startswith("..") else None
        path = Path(found) if isinstance(found, str) else None
        if path is None or not path.is_file():
            self.send_response(*_text(404, f"static file {relative!r} not found"))
            return
        stat = path.stat()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(stat.st_size).encode()),
            (b"last-modified", email.utils.formatdate(stat.st_mtime, usegmt=True).encode()),
        ]
        self.send_headers(200, headers)
        if method == "HEAD" or stat.st_size == 0:
            self.send_body(b"")
            return
        with path.open("rb") as fh:
            chunk = fh.read(_CHUNK)
            while chunk:
                following = fh.read(_CHUNK)
                self.send_body(chunk, more_body=bool(following))
                chunk = following


def static_route() -> Route | None:
    prefix = static_prefix()
    if prefix is None:
        return None
    return route(REQUEST, StaticFilesConsumer.as_consumer(), path="^" + re.escape(prefix))
