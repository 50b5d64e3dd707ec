"""The routing a Django project runs with: its own, plus what Django users expect.

``manage.py`` commands route, in this order:

1. static files under ``STATIC_URL`` (``runserver`` and ``runworker``, in DEBUG or with
   ``--insecure``; :mod:`.static`): the worker answers HTTP requests, so a split
   deployment serves them too;
2. the project's routing (``TELEPHONIST['routing']``), included as it is;
3. a Channels project's ``ASGI_APPLICATION``, if settings name one: every other
   WebSocket and HTTP connection is an instance of it (:mod:`.channels_app`);
4. otherwise every other ``http.request`` (and ``http.disconnect``) to the project's
   Django views (URLconf, middleware, streaming responses), through
   :class:`telephonist.django.views.DjangoViewConsumer`. As in Channels 1, a
   project that routes nothing for HTTP still serves its site.

The runtime takes routing as a dotted path, so the commands publish the composed list
under :data:`ACTIVE` (``telephonist.django.routing.active``, computed when a worker
loads it) after :func:`activate` recorded what to compose. Workers of a split
deployment started with ``manage.py runworker`` compose the same list.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from ..routing import Include, Route, include, route
from ..spec.http import REQUEST
from .static import static_route

__all__ = ["ACTIVE", "activate", "compose", "view_consumer"]

log = logging.getLogger("telephonist.django")

ACTIVE = "telephonist.django.routing.active"

_active: dict[str, Any] = {"routing": None, "static": False}


def view_consumer() -> tuple[Callable[..., Any], tuple[str, ...]] | None:
    """The consumer that runs Django views, and its channels, if it is installed."""
    try:
        views = importlib.import_module("telephonist.django.views")
    except ImportError as exc:
        log.debug("Django views are not served: %s", exc)
        return None
    cls = getattr(views, "DjangoViewConsumer", None)
    if cls is None:
        return None
    channels = tuple(getattr(cls, "channels", (REQUEST,)))
    # The module's ready consumer is one instance for the process (it owns the thread
    # pool that runs sync views): every composition shares it.
    consumer = getattr(views, "view_consumer", None)
    if not callable(consumer):
        consumer = cls.as_consumer()
    return consumer, channels


def compose(routing: str | None, *, static: bool = False) -> list[Route | Include]:
    """Static files (optional), the project's routing, then its ASGI application or
    Django views for HTTP."""
    routes: list[Route | Include] = []
    if static:
        files = static_route()
        if files is not None:
            routes.append(files)
    if routing:
        routes.append(include(routing))
    from .channels_app import asgi_application_path, hosted_application

    if asgi_application_path() is not None:
        routes.append(route(list(hosted_application.channels), hosted_application))
        return routes
    views = view_consumer()
    if views is not None:
        consumer, channels = views
        routes.append(route(list(channels), consumer))
    return routes


def activate(routing: str | None, *, static: bool = False) -> str:
    """Record what :data:`ACTIVE` composes; returns that dotted path for the runtime."""
    _active.update(routing=routing, static=static)
    return ACTIVE


def __getattr__(name: str) -> Any:
    # ``active`` is computed on access: the Router imports this module and reads it
    # after the command called ``activate``.
    if name == "active":
        return compose(_active["routing"], static=_active["static"])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
