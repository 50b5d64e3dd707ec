"""Configuration: one pydantic model, loaded from defaults, extra sources (Django),
``telephonist.toml``, ``TELEPHONIST_*`` environment variables and ``--set`` overrides."""

from typing import Any

from . import model as _model
from .errors import ConfigError, describe_validation_error
from .model import (
    AffinitySettings,
    LayerSettings,
    MetricsSettings,
    ServerSettings,
    StatusSettings,
    TelephonistConfig,
    WorkerSettings,
)
from .sources import ENV_PREFIX, ConfigSource, find_config_file, load_config, parse_value

__all__ = [
    "ENV_PREFIX",
    "AffinitySettings",
    "ConfigError",
    "ConfigSource",
    "LayerSettings",
    "MetricsSettings",
    "ServerSettings",
    "StatusSettings",
    "TelephonistConfig",
    "WorkerSettings",
    "describe_validation_error",
    "find_config_file",
    "load_config",
    "parse_value",
]


def __getattr__(name: str) -> Any:
    # Deprecated names (``HostSettings``) warn from the model module.
    return getattr(_model, name)
