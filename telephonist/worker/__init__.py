"""Workers: take messages from the layer, route them, run consumers, keep affinity."""

from .connections import connection_released
from .dispatch import sync_consumers_running
from .selection import select_channels
from .worker import Worker

__all__ = ["Worker", "connection_released", "select_channels", "sync_consumers_running"]
