"""The interface-server host: runs interfaces on one event loop and keeps connection
affinity with workers. Also home of the pieces hosts and workers share: the control
protocol (:mod:`.control`), lifespan hooks, signal handling and status publishing."""

from .hooks import Lifespan
from .reactor import ReactorError, install_asyncio_reactor
from .server import InterfaceServer, StartupError

__all__ = ["InterfaceServer", "Lifespan", "ReactorError", "StartupError", "install_asyncio_reactor"]
