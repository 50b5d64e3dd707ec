"""What the stand-in's Socket Mode keeps per payload (:class:`Delivery`, each
:class:`Attempt`) and per WebSocket (:class:`Link`); ``socket.py`` explains the rules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["Attempt", "Delivery", "Link"]


@dataclass
class Attempt:
    link: int | None  # None: nothing was connected
    retry_attempt: int
    retry_reason: str
    at: float  # time.monotonic() when the attempt was made
    sent: float | None = None  # when the frame was handed to the socket


@dataclass(eq=False)
class Delivery:
    """One payload Slack wants acknowledged; see the module docstring."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    attempts: list[Attempt] = field(default_factory=list)
    ack: dict[str, Any] | None = None  # the app's ack frame
    acked_on: int | None = None  # the link the ack came on
    acked_at: float | None = None  # time.monotonic() when the ack arrived
    failed: bool = False  # every attempt went unacknowledged
    done: asyncio.Event = field(default_factory=asyncio.Event)  # acked or failed
    _timer: asyncio.TimerHandle | None = None

    @property
    def ack_payload(self) -> Any:
        return None if self.ack is None else self.ack.get("payload")

    async def acked(self, within: float = 10.0) -> dict[str, Any]:
        """The ack frame; ``AssertionError`` if every attempt failed, ``TimeoutError`` if
        nothing happened ``within`` seconds."""
        async with asyncio.timeout(within):
            await self.done.wait()
        assert self.ack is not None, f"{self.envelope_id} was never acknowledged"
        return self.ack


@dataclass(eq=False)
class Link:
    """One Socket Mode WebSocket, Slack's end."""

    id: int
    ws: web.WebSocketResponse
    opened: float
    received: list[dict[str, Any]] = field(default_factory=list)  # frames the app sent
    disconnect_reason: str | None = None
    frozen: asyncio.Event = field(default_factory=asyncio.Event)
    not_reading: asyncio.Event = field(default_factory=asyncio.Event)  # frozen took effect
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def live(self) -> bool:
        return not self.closed.is_set() and not self.ws.closed
