"""Configuration: one pydantic model, loaded from defaults, extra sources (Django),
``telephonist.toml``, ``TELEPHONIST_*`` environment variables and ``--set`` overrides."""

from .errors import ConfigError, describe_validation_error
from .model import (
    AffinitySettings,
    HostSettings,
    LayerSettings,
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
    "HostSettings",
    "LayerSettings",
    "StatusSettings",
    "TelephonistConfig",
    "WorkerSettings",
    "describe_validation_error",
    "find_config_file",
    "load_config",
    "parse_value",
]
