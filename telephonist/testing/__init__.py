"""Test helpers: drive routing and consumers with messages, with no sockets and no sleeps.

``ConsumerTester`` (plain tests, or ``async with`` in async ones) and
``AsyncConsumerTester`` dispatch messages through the real ``Dispatcher`` over an
in-memory layer and read back what the consumers sent; ``send`` returns the dispatch's
``Outcome``.

``telephonist.testing.processes`` is the other end: the real commands as processes,
waited for and stopped within bounds (imported on its own, not from here).
"""

from ..worker.dispatch import Outcome
from .blocking import ConsumerTester
from .tester import AsyncConsumerTester, Routing

__all__ = ["AsyncConsumerTester", "ConsumerTester", "Outcome", "Routing"]
