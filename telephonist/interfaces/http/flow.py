"""Write-side flow control: follow the client's pace, not the consumer's.

``WriteWatch`` is registered with the transport as a streaming producer; Twisted pauses
it while the socket's send buffer is over its high-water mark and resumes it once the
buffer drains. The exchange awaits ``drained`` after each body message, so while a
client reads slowly the next reply messages wait on the layer, where the reply
channel's capacity makes the consumer's ``send`` raise ``ChannelFull`` (it backs off
and retries), instead of piling up in this process's memory. A client that takes
nothing for the write timeout is reported so the connection can be cut (slow read).
"""

from __future__ import annotations

import asyncio

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer  # type: ignore[import-untyped]

__all__ = ["WriteWatch"]


@implementer(IPushProducer)
class WriteWatch:
    def __init__(self) -> None:
        self.paused = False
        self._waiters: list[asyncio.Future[None]] = []

    # -- IPushProducer, called by the transport ---------------------------------------

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.release()

    def stopProducing(self) -> None:
        self.paused = False
        self.release()

    # -- used by the connection -------------------------------------------------------

    async def drained(self, seconds: float) -> bool:
        """``True`` once the transport takes data again (at once if it does now);
        ``False`` if it did not within ``seconds``."""
        if not self.paused:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            return False
        return True

    def release(self) -> None:
        """Wake every waiter (drained, or the connection is gone)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
