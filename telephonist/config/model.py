"""The one configuration model every command reads.

Why one model: the same settings drive ``telephonist run``, ``serve`` and ``worker`` (and,
through the Django seam in :mod:`telephonist.config.sources`, ``manage.py`` commands), so a
split deployment can share one ``telephonist.toml`` across machines and each process takes
the part it needs. Unknown keys are errors everywhere except ``interfaces.<name>``, whose
options are validated by that interface's own ``config_model`` once the plugin is loaded
(:func:`telephonist.interfaces.plugins.configure`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AffinitySettings",
    "LayerSettings",
    "MetricsSettings",
    "ServerSettings",
    "StatusSettings",
    "TelephonistConfig",
    "WorkerSettings",
    "rename_deprecated",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayerSettings(_Section):
    """Same shape as one Channels ``CHANNEL_LAYERS`` entry."""

    BACKEND: str = Field(default="memory", description="'memory', 'redis' or a dotted class path")
    CONFIG: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of the layer class"
    )

    def as_layer_config(self) -> dict[str, Any]:
        return {"BACKEND": self.BACKEND, "CONFIG": dict(self.CONFIG)}


class ServerSettings(_Section):
    """The interface server (``serve``, and the interface half of ``run``)."""

    drain_timeout: float = Field(
        default=10.0, gt=0, description="seconds interfaces may finish work in flight on stop"
    )
    on_startup: list[str] = Field(
        default_factory=list, description="dotted callables run once interfaces serve"
    )
    on_shutdown: list[str] = Field(
        default_factory=list, description="dotted callables run after interfaces stopped"
    )


class WorkerSettings(_Section):
    """The worker process (``worker`` and the worker half of ``run``)."""

    concurrency: int = Field(default=64, ge=1, description="messages handled at once, at most")
    threads: int = Field(default=16, ge=1, description="threads running sync consumers")
    only: list[str] = Field(
        default_factory=list, description="globs: take only these shared channels"
    )
    exclude: list[str] = Field(
        default_factory=list, description="globs: never take these shared channels"
    )
    drain_timeout: float = Field(
        default=10.0, gt=0, description="seconds in-flight messages may finish on stop"
    )
    on_startup: list[str] = Field(
        default_factory=list, description="dotted callables run before receiving"
    )
    on_shutdown: list[str] = Field(
        default_factory=list, description="dotted callables run after the drain"
    )


class AffinitySettings(_Section):
    """Connection affinity (docs/runtime.md, "Connection affinity")."""

    heartbeat_interval: float = Field(
        default=2.0,
        gt=0,
        description="seconds between a worker's heartbeats to each interface server it serves",
    )
    heartbeat_misses: int = Field(
        default=3,
        ge=1,
        description="missed heartbeats after which an interface server aborts the connections",
    )
    bind_timeout: float = Field(
        default=10.0, gt=0, description="seconds a new connection may wait for a worker to bind it"
    )
    pending_limit: int = Field(
        default=64, ge=1, description="events buffered per connection while it waits for its bind"
    )


class StatusSettings(_Section):
    """How ``telephonist status`` finds the running processes."""

    socket_dir: str | None = Field(
        default=None,
        description="directory of per-process status sockets (default: a per-user temp dir)",
    )
    timeout: float = Field(
        default=1.0, gt=0, description="seconds `telephonist status` waits for answers"
    )


class MetricsSettings(_Section):
    """Where this process serves Prometheus metrics (``/metrics``)."""

    port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="port of the /metrics endpoint; none: not served (each process its own)",
    )
    host: str = Field(
        default="127.0.0.1",
        description="address of the /metrics endpoint (loopback: only this machine scrapes)",
    )
    http_path: str | None = Field(
        default=None,
        pattern=r"^/[!-~]*$",
        description="also serve the metrics at this path on the http interface (e.g. /metrics)",
    )


#: Table names that were renamed: the old name still works, with a DeprecationWarning.
_RENAMED = {"host": "server"}


def rename_deprecated(tree: Mapping[str, Any]) -> dict[str, Any]:
    """``tree`` with renamed tables under their new names (``[host]`` -> ``[server]``).

    If both names are given the new one wins key by key. Applied to each source on its
    own by ``load_config``, so a renamed table keeps its source's precedence."""
    out = dict(tree)
    for old, new in _RENAMED.items():
        if old not in out:
            continue
        warnings.warn(
            f"the [{old}] settings table is now [{new}] ({old}.drain_timeout -> "
            f"{new}.drain_timeout, TELEPHONIST_{old.upper()}__* -> TELEPHONIST_{new.upper()}__*)",
            DeprecationWarning,
            stacklevel=3,
        )
        value, current = out.pop(old), out.get(new)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            value = {**value, **current}
        elif current is not None:
            value = current
        out[new] = value
    return out


class TelephonistConfig(_Section):
    routing: str | None = Field(
        default=None, description="dotted path of the routing list, e.g. 'myapp.routing.routes'"
    )
    layer: LayerSettings = Field(default_factory=LayerSettings)
    interfaces: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="interface name -> its options"
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    affinity: AffinitySettings = Field(default_factory=AffinitySettings)
    status: StatusSettings = Field(default_factory=StatusSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    log_format: Literal["text", "json"] = Field(default="text", description="'text' or 'json'")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="minimum level logged"
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_tables(cls, data: Any) -> Any:
        # For configurations built in code; load_config renames per source first.
        return rename_deprecated(data) if isinstance(data, Mapping) else data


def __getattr__(name: str) -> Any:
    if name == "HostSettings":
        # The message has telephonist.core.deprecation's form; this package imports
        # nothing of Telephonist (the core reads the configuration), so not the helper.
        warnings.warn(
            "telephonist.config.HostSettings is deprecated: use telephonist.config.ServerSettings",
            DeprecationWarning,
            stacklevel=2,
        )
        return ServerSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
