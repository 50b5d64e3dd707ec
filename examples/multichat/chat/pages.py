"""Pages when ``telephonist.django.views`` (Django views as a consumer) is not installed.

``manage.py runserver`` routes every unanswered ``http.request`` to the project's Django
views through that module. Where it is missing, these routes run the same views
through Django's WSGI handler instead (URLconf and middleware included; no streaming),
so the example serves its pages either way.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from django.core.handlers.wsgi import WSGIHandler

from telephonist.consumers import HttpConsumer
from telephonist.django.routing import view_consumer
from telephonist.routing import Route, route


class WsgiPages(HttpConsumer):
    channels = ("http.request",)
    handler: WSGIHandler | None = None

    def handle(self, body: bytes) -> None:
        if WsgiPages.handler is None:
            WsgiPages.handler = WSGIHandler()
        message = self.message
        server = message.get("server") or ["127.0.0.1", 80]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": message.get("method", "GET"),
            "SCRIPT_NAME": message.get("root_path", ""),
            "PATH_INFO": message.get("path", "/"),
            "QUERY_STRING": bytes(message.get("query_string") or b"").decode("latin-1"),
            "SERVER_NAME": str(server[0]),
            "SERVER_PORT": str(server[1]),
            "SERVER_PROTOCOL": "HTTP/" + message.get("http_version", "1.1"),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": message.get("scheme", "http"),
        }
        for name, value in message.get("headers") or []:
            key = name.decode("latin-1").upper().replace("-", "_")
            key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
            environ[key] = value.decode("latin-1")
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            answer["status"], answer["headers"] = int(status.split()[0]), headers
            return lambda data: None

        chunks = self.handler(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        self.send_response(answer["status"], content, answer["headers"])


def fallback_routes() -> list[Route]:
    if view_consumer() is not None:
        return []
    return [route("http.request", WsgiPages.as_consumer())]
