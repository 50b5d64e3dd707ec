"""System checks (``manage.py check``, and before ``runserver``/``migrate``) for Telephonist.

Each problem the runtime would refuse to start with is reported here first, as a Django
``Error`` naming the key the way it is written in ``settings.py``
(``TELEPHONIST['interfaces']['http']['endpoints']``) with a hint saying what to change.
The same code validates both (:func:`telephonist.config.load_config`,
:func:`telephonist.interfaces.plugins.enabled_interfaces`,
:class:`telephonist.routing.Router`), so a check that passes means the commands start.

IDs: ``telephonist.E001`` settings, ``E002`` interfaces, ``E003`` routing, ``E004``
an ``ASGI_APPLICATION`` that does not import;
``telephonist.W001`` INSTALLED_APPS order (staticfiles or daphne, whose ``runserver``
would win), ``W002`` a session engine that cannot hold
channel sessions, ``W003`` WebSockets open to every origin in a project with sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks

from ..config import ConfigError, TelephonistConfig
from ..interfaces.plugins import discover, enabled_interfaces
from ..routing import Router, RoutingError
from .settings import load_django_config, setting_path

__all__ = ["app_order", "check_settings"]

_OVERRIDE_NOTE = (
    "(a telephonist.toml, a TELEPHONIST_* environment variable or a --set option "
    "overrides settings.py: look there too)"
)


def _located(problem: str) -> tuple[str, str]:
    """``"interfaces.http.port: bad"`` -> ``("TELEPHONIST['interfaces']...", "bad")``."""
    key, sep, rest = problem.partition(": ")
    if not sep or " " in key or key.startswith(("TELEPHONIST", "CHANNEL_LAYERS", "--set")):
        return "", problem
    return setting_path(key), rest


def _errors(problems: Sequence[str], code: str, hint: str) -> list[checks.CheckMessage]:
    out: list[checks.CheckMessage] = []
    for problem in problems:
        where, what = _located(problem)
        text = f"{where}: {what}" if where else what
        out.append(checks.Error(text, hint=hint, id=f"telephonist.{code}"))
    return out


def _interface_errors(config: TelephonistConfig) -> list[checks.CheckMessage]:
    plugins = discover(config.interfaces)
    try:
        enabled_interfaces(config.interfaces, plugins)
    except ConfigError as exc:
        names = ", ".join(sorted(discover())) or "none"
        return _errors(
            exc.problems,
            "E002",
            f"Fix the interface's options in settings.TELEPHONIST['interfaces'] "
            f"(installed interfaces: {names}; `telephonist interfaces` lists every option) "
            f"{_OVERRIDE_NOTE}",
        )
    return []


def _routing_errors(config: TelephonistConfig) -> list[checks.CheckMessage]:
    if not config.routing:
        return []
    try:
        Router(config.routing)
    except RoutingError as exc:
        return [
            checks.Error(
                f"routing {config.routing!r}: {problem}",
                hint="Fix the route named above, or point TELEPHONIST['routing'] at the "
                "right list (a dotted path such as 'myproject.routing.routes').",
                id="telephonist.E003",
            )
            for problem in exc.problems
        ]
    return []


def app_order(apps: Sequence[str]) -> list[checks.CheckMessage]:
    """``W001``: an app listed above ours in ``apps`` whose ``runserver`` would run
    instead. (A pure function: listing 'daphne' in a test's settings would import
    Daphne, which installs Twisted's reactor in the test process.)"""
    ours = next((i for i, a in enumerate(apps) if a.startswith("telephonist.django")), None)
    if ours is None:
        return []
    messages = []
    for app, server in (
        ("django.contrib.staticfiles", "staticfiles' WSGI"),
        ("daphne", "Daphne's"),
    ):
        if app in apps[:ours]:
            messages.append(
                checks.Warning(
                    f"'{app}' comes before 'telephonist.django' in INSTALLED_APPS, so "
                    f"`manage.py runserver` is {server} server, not Telephonist's.",
                    hint=f"Move 'telephonist.django' above '{app}'.",
                    id="telephonist.W001",
                )
            )
    return messages


def _session_engine() -> list[checks.CheckMessage]:
    from django.conf import settings

    engine = getattr(settings, "SESSION_ENGINE", "")
    if engine == "django.contrib.sessions.backends.signed_cookies":
        return [
            checks.Warning(
                "SESSION_ENGINE stores sessions in cookies: channel_session and "
                "channel_session_user cannot save anything (a WebSocket or IRC "
                "connection has no cookie to write to).",
                hint="Use a server-side engine (db, cache, cached_db or file) if any "
                "consumer uses channel sessions.",
                id="telephonist.W002",
            )
        ]
    return []


def _open_origins(config: TelephonistConfig) -> list[checks.CheckMessage]:
    """``W003``: any web page may open a WebSocket, and the project has sessions to
    ride on (cross-site WebSocket hijacking: the socket carries the user's cookies)."""
    from django.conf import settings

    http = config.interfaces.get("http")
    if not isinstance(http, dict) or "django.contrib.sessions" not in settings.INSTALLED_APPS:
        return []
    websocket = http.get("websocket", {})
    if not isinstance(websocket, dict) or websocket.get("enabled", True) is False:
        return []
    origins = websocket.get("allowed_origins", ["*"])
    hosts = websocket.get("allowed_hosts", [])
    if "*" not in origins and "*" not in hosts:
        return []
    where = (
        "ALLOWED_HOSTS"
        if "*" in hosts
        else setting_path("interfaces.http.websocket.allowed_origins")
    )
    return [
        checks.Warning(
            f"WebSocket handshakes are accepted from every origin ({where} allows '*') "
            "and the project uses sessions: any web site a logged-in user visits can "
            "open a socket to this one with the user's cookies.",
            hint="List your site's hosts in ALLOWED_HOSTS (WebSocket origins follow it), "
            "or the allowed origins in "
            f"{setting_path('interfaces.http.websocket.allowed_origins')}; see "
            "docs/security.md.",
            id="telephonist.W003",
        )
    ]


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Everything the Telephonist commands would refuse to start with."""
    from django.conf import settings

    messages = app_order(list(settings.INSTALLED_APPS)) + _session_engine()
    try:
        config = load_django_config()
    except ConfigError as exc:
        return messages + _errors(
            exc.problems,
            "E001",
            f"Change that key in settings.TELEPHONIST (or CHANNEL_LAYERS) {_OVERRIDE_NOTE}.",
        )
    return (
        messages
        + _open_origins(config)
        + _interface_errors(config)
        + _routing_errors(config)
        + _asgi_application()
    )


def _asgi_application() -> list[checks.CheckMessage]:
    """``E004``: ``ASGI_APPLICATION`` (which the workers host) does not import."""
    from .channels_app import asgi_application_path

    path = asgi_application_path()
    if path is None:
        return []
    from django.utils.module_loading import import_string

    try:
        import_string(path)
    except Exception as exc:
        return [
            checks.Error(
                f"ASGI_APPLICATION {path!r} does not import: {type(exc).__name__}: {exc}",
                hint="The workers serve every WebSocket and HTTP connection with it: fix "
                "the path or the module (usually asgi.py).",
                id="telephonist.E004",
            )
        ]
    return []
