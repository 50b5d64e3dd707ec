"""A Channels 4 project's ``ASGI_APPLICATION``, served by Telephonist's workers.

Theory of operation
-------------------
A Channels project names its application in ``settings.ASGI_APPLICATION``
(``mysite.asgi.application``: a ``ProtocolTypeRouter`` over Django's ASGI handler and
``AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))``). When that
setting is present, the workers host it as it is (:class:`AsgiApplicationConsumer`):
every WebSocket and HTTP connection is one instance of the application in the worker
that affinity gave the connection, with the scope an ASGI server gives, so its
middleware, its router and its ``as_asgi()`` consumers run unchanged. Routes the project
declares in ``TELEPHONIST['routing']`` still come first (:mod:`.routing`).

A Channels consumer asks Channels for its layer (``channels.layers.get_channel_layer``)
and calls ``new_channel()`` and ``receive()`` on it. :func:`bridge_channels_layers`
makes Channels' layer manager answer with Telephonist's project layers
(:data:`telephonist.core.layers.channel_layers`), so that a consumer's ``channel_name``
is a process-specific channel of the layer the worker runs on, its ``group_send``
reaches every worker's members, and a view or a management command calling Channels'
``get_channel_layer()`` pushes to the same rooms. A layer a test installs with
Channels' own ``channel_layers.set(...)`` still wins.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..affinity.worker import CLOSED, STOPPING
from ..consumers.asgi_app import ASGIApp, AsgiApplicationConsumer
from ..core.layers import channel_layers
from ..lifespan import Lifespan
from ..worker import connection_released
from . import channels_db

__all__ = [
    "SHUTDOWN_HOOK",
    "STARTUP_HOOK",
    "asgi_application_path",
    "bridge_channels_layers",
    "drain_at_shutdown",
    "hosted_application",
    "load_application",
    "load_at_startup",
]

log = logging.getLogger("telephonist.django")


def asgi_application_path() -> str | None:
    """``settings.ASGI_APPLICATION`` if the project names one."""
    from django.conf import settings

    path = getattr(settings, "ASGI_APPLICATION", None)
    return str(path) if path else None


def load_application() -> ASGIApp:
    """Import ``ASGI_APPLICATION`` (its module sets Django up, as under Daphne)."""
    from django.utils.module_loading import import_string

    path = asgi_application_path()
    if path is None:
        raise RuntimeError("settings.ASGI_APPLICATION is not set")
    application: ASGIApp = import_string(path)
    log.info("serving ASGI_APPLICATION %s", path)
    return application


#: The one host of ``ASGI_APPLICATION`` in this process (its instances by connection).
def _db_hop_counters() -> dict[str, int]:
    # Channels' per-message database clean-up: hops made, and skipped as needless.
    return {f"db_cleanup_{name}": count for name, count in channels_db.counters.items()}


hosted_application = AsgiApplicationConsumer(
    load=load_application, name="ASGI_APPLICATION", extra_counters=_db_hop_counters
)


async def load_at_startup(lifespan: Lifespan) -> None:
    """Worker start-up hook: import ``ASGI_APPLICATION`` now, so a broken ``asgi.py``
    stops the worker at start rather than failing every connection. Channels' consumers
    then skip their per-message database clean-up when no connection is open
    (:mod:`.channels_db`)."""
    await asyncio.to_thread(lambda: hosted_application.application)
    channels_db.install()


async def drain_at_shutdown(lifespan: Lifespan) -> None:
    """Worker shut-down hook: instances end (their ``disconnect()`` runs) before the
    layer closes (see :meth:`AsgiApplicationConsumer.drain`)."""
    await hosted_application.drain()


#: The hooks the commands add to a worker that hosts ``ASGI_APPLICATION``.
STARTUP_HOOK = f"{__name__}.load_at_startup"
SHUTDOWN_HOOK = f"{__name__}.drain_at_shutdown"


def _released(signal: object, sender: object, connection: str, reason: str, **kw: Any) -> None:
    # "closed": the worker consumed the connection's last event (a request in one
    # message, a WebSocket after its disconnect); the instance may still be answering.
    if reason != CLOSED:
        hosted_application.release(connection, code=1001 if reason == STOPPING else 1006)


connection_released.connect(_released)


def bridge_channels_layers() -> bool:
    """Make Channels' ``get_channel_layer()`` return Telephonist's project layers (see
    the module doc). Returns whether Channels is installed. Idempotent."""
    try:
        import channels.layers
    except ImportError:
        return False
    manager = channels.layers.channel_layers
    if isinstance(manager, _BridgedManager):
        return True
    base = type(manager)
    if not isinstance(manager, channels.layers.ChannelLayerManager):
        log.warning("channels.layers.channel_layers was replaced by %r: not bridged", base)
        return True
    manager.__class__ = type("BridgedChannelLayerManager", (_BridgedManager, base), {})
    manager.backends = {}  # anything Channels built before Django was ready
    return True


class _BridgedManager:
    """Mixed into Channels' ``ChannelLayerManager`` (its instance keeps its identity, so
    every ``from channels.layers import channel_layers`` sees the bridge)."""

    backends: dict[str, Any]

    def __getitem__(self, alias: str) -> Any:
        if alias in self.backends:  # installed by ``channel_layers.set`` (tests)
            return self.backends[alias]
        if alias not in channel_layers:
            raise KeyError(alias)  # Channels' get_channel_layer() answers None
        return channel_layers[alias]

    def __contains__(self, alias: object) -> bool:
        return alias in self.backends or alias in channel_layers
