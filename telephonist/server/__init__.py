"""The interface-server host: runs interfaces on one event loop and keeps connection
affinity with workers."""

from ..lifespan import Lifespan
from .reactor import ReactorError, install_asyncio_reactor
from .server import InterfaceServer, StartupError

__all__ = ["InterfaceServer", "Lifespan", "ReactorError", "StartupError", "install_asyncio_reactor"]
