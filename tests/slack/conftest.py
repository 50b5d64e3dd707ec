from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from telephonist.testing.slack import SlackStandIn


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    """A stand-in with a short ack timeout, so redelivery tests take a fraction of 3 s."""
    async with SlackStandIn(ack_timeout=0.5, refresh_grace=1.0) as standin:
        yield standin
