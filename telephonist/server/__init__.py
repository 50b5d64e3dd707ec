"""The interface server: runs interfaces on one event loop, owns the process's reply
channels and keeps connection affinity with workers."""

from .reactor import ReactorError, install_asyncio_reactor
from .server import InterfaceServer, StartupError

__all__ = ["InterfaceServer", "ReactorError", "StartupError", "install_asyncio_reactor"]
