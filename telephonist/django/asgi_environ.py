"""From an ``http.request`` message to what Django's handlers take: a WSGI environ (for
the thread-pool path) or an ASGI scope (for async views on the loop).

Pure functions over the message's scope keys (see ``docs/http.md``), tested without
Django. Header names containing ``_`` are dropped from the environ, as Django's own
``runserver`` does: in WSGI ``X-Auth_User`` and ``X-Auth-User`` would both become
``HTTP_X_AUTH_USER``, letting a client forge a header a proxy set.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

__all__ = ["asgi_scope", "wsgi_environ"]

_SCOPE_KEYS = (
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "query_string",
    "root_path",
    "headers",
)


def _latin1(text: str) -> str:
    # PEP 3333: environ strings carry bytes as latin-1 code points.
    return text.encode("utf-8").decode("latin-1")


def wsgi_environ(first: Mapping[str, Any], body: IO[bytes], length: int) -> dict[str, Any]:
    """The environ Django's ``WSGIHandler`` needs for the request ``first`` describes,
    whose body (``length`` bytes, however it arrived) is readable from ``body``."""
    path: str = first.get("path", "/")
    root: str = first.get("root_path", "") or ""
    path_info = path[len(root) :] if root and path.startswith(root) else path
    environ: dict[str, Any] = {
        "REQUEST_METHOD": first.get("method", "GET"),
        "SCRIPT_NAME": _latin1(root),
        "PATH_INFO": _latin1(path_info or "/"),
        "QUERY_STRING": bytes(first.get("query_string", b"")).decode("latin-1"),
        "SERVER_PROTOCOL": "HTTP/" + first.get("http_version", "1.1"),
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": first.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    server = first.get("server") or ["localhost", None]
    environ["SERVER_NAME"] = str(server[0])
    environ["SERVER_PORT"] = str(server[1] or 0)
    client = first.get("client")
    if client:
        environ["REMOTE_ADDR"] = str(client[0])
        environ["REMOTE_PORT"] = str(client[1] or 0)
    for raw_name, raw_value in first.get("headers", []):
        name = bytes(raw_name).decode("latin-1")
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        value = bytes(raw_value).decode("latin-1")
        if key == "CONTENT_LENGTH":
            continue  # the real length is set above, for chunked requests too
        if key != "CONTENT_TYPE":
            key = "HTTP_" + key
        if key in environ:
            # Repeated headers are one comma-separated list, cookies a "; " one.
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
        environ[key] = value
    return environ


def asgi_scope(first: Mapping[str, Any]) -> dict[str, Any]:
    """The ASGI 3 ``http`` scope for Django's ``ASGIHandler``."""
    scope: dict[str, Any] = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}
    for key in _SCOPE_KEYS:
        if key in first:
            scope[key] = first[key]
    scope["headers"] = [(bytes(n), bytes(v)) for n, v in first.get("headers", [])]
    client, server = first.get("client"), first.get("server")
    scope["client"] = tuple(client) if client else None
    scope["server"] = tuple(server) if server else None
    return scope
