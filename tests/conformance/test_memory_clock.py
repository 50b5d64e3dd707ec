"""The in-memory layer measures expiry on the clock it is given: exact boundaries, no
sleeps (the contract tests run the same expiry against real time on Redis)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from telephonist.core.memory import InMemoryChannelLayer

from .conftest import FakeClock

T = 5.0
DOC = Path(__file__).resolve().parents[2] / "docs" / "layers.md"


async def test_the_docs_example_runs_as_written() -> None:
    [block] = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if "clock" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    await asyncio.wait_for(namespace["test_unread_messages_expire"](), T)


async def test_a_message_lives_until_its_expiry_and_no_longer() -> None:
    clock = FakeClock()
    layer = InMemoryChannelLayer(expiry=10, clock=clock)
    await layer.send("c", {"type": "first"})
    clock.now = 5.0
    await layer.send("c", {"type": "second"})
    clock.now = 9.999
    assert layer.depths() == {"c": 2}
    assert await asyncio.wait_for(layer.receive("c"), T) == {"type": "first"}
    clock.now = 15.0  # "second" expires at exactly 15
    await layer.send("c", {"type": "third"})
    assert await asyncio.wait_for(layer.receive("c"), T) == {"type": "third"}
    assert layer.stats.get("expired") == 1


async def test_expired_messages_free_the_capacity_they_held() -> None:
    clock = FakeClock()
    layer = InMemoryChannelLayer(expiry=1, capacity=2, clock=clock)
    await layer.send_many([("full", {"type": "old"})] * 2)
    clock.now = 1.0
    await layer.send("full", {"type": "new"})  # no ChannelFull: the old ones are gone
    assert await asyncio.wait_for(layer.receive("full"), T) == {"type": "new"}
    assert layer.stats.get("expired") == 2


async def test_group_membership_lapses_unless_refreshed() -> None:
    clock = FakeClock()
    layer = InMemoryChannelLayer(group_expiry=100, clock=clock)
    await layer.group_add("g", "kept")
    await layer.group_add("g", "lapsing")
    clock.now = 60.0
    await layer.group_add("g", "kept")  # a live connection refreshes its membership
    clock.now = 99.999
    assert sorted(await layer.group_channels("g")) == ["kept", "lapsing"]
    clock.now = 100.0
    assert await layer.group_channels("g") == ["kept"]
    await layer.group_send("g", {"type": "hi"})
    assert layer.depths() == {"kept": 1}
    clock.now = 160.0
    assert await layer.group_channels("g") == []
