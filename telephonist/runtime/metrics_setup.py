"""What a process does about metrics (``[metrics]``): nothing unless asked.

``prometheus_client`` is imported only when ``metrics.port`` or ``metrics.http_path`` is
set, so the runtime needs the ``metrics`` extra only where metrics are served. Each
process has a registry of its own (not the library's global one): a test or an
embedding program that runs two processes' runtimes in one interpreter gets two
separate sets of series, and nothing else registered globally leaks in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config.model import MetricsSettings
from ..interfaces.mounts import mount, unmount

__all__ = ["Metrics"]


class Metrics:
    def __init__(
        self, settings: MetricsSettings, snapshot: Callable[[], dict[str, Any]], role: str
    ) -> None:
        self.settings = settings
        self._endpoint: Any = None
        self._mounted = False
        self.registry: Any = None
        if settings.port is None and settings.http_path is None:
            return
        from prometheus_client import CollectorRegistry  # ImportError: the extra is missing

        from .metrics import SnapshotCollector
        from .metrics_endpoint import MetricsEndpoint

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(snapshot, role))
        if settings.port is not None:
            self._endpoint = MetricsEndpoint(self.registry, settings.host, settings.port)

    async def start(self) -> None:
        if self._endpoint is not None:
            await self._endpoint.start()
        if self.settings.http_path is not None and self.registry is not None:
            from prometheus_client import make_asgi_app

            mount(self.settings.http_path, make_asgi_app(self.registry))
            self._mounted = True

    def endpoints(self) -> list[str]:
        found: list[str] = self._endpoint.endpoints() if self._endpoint is not None else []
        if self._mounted:
            found.append(f"{self.settings.http_path} on the http interface")
        return found

    async def stop(self) -> None:
        if self._mounted and self.settings.http_path is not None:
            unmount(self.settings.http_path)
            self._mounted = False
        if self._endpoint is not None:
            await self._endpoint.stop()
