"""The ``claims`` capability (``telephonist/core/claims.py``) on every backend, and the
local table against a model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.core.claims import CLAIMS, Claims, LocalClaims, claims_of
from telephonist.core.layers import BaseChannelLayer, ChannelsLayerAdapter, InMemoryChannelLayer
from tests.conformance.conftest import LayerFactory


def claims(layer: BaseChannelLayer) -> Claims:
    assert CLAIMS in layer.extensions
    found = claims_of(layer)
    assert found is layer
    return found


async def test_claim_is_set_if_absent(layer: BaseChannelLayer) -> None:
    table = claims(layer)
    assert await table.claim("ev.1", "pending", 30) is None
    assert await table.claim("ev.1", "other", 30) == "pending"
    await table.set_claim("ev.1", "done", 30)
    assert await table.claim("ev.1", "other", 30) == "done"
    await table.drop_claim("ev.1")
    assert await table.claim("ev.1", "again", 30) is None
    await table.drop_claim("never-claimed")  # not an error


async def test_claims_expire(layer: BaseChannelLayer) -> None:
    table = claims(layer)
    assert await table.claim("short", "a", 0.2) is None
    assert await table.claim("short", "b", 0.2) == "a"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await table.claim("short", "b", 10) is not None:  # bounded: expiry is 0.2 s
        assert loop.time() < deadline, "the claim never expired"
        await asyncio.sleep(0.05)


async def test_exactly_one_of_many_concurrent_claimers(make_layer: LayerFactory) -> None:
    first, second = make_layer(), make_layer()  # two layer objects: two processes' view
    attempts = [claims(layer).claim("race", f"c{i}", 30) for i in range(20)
                for layer in (first, second)]  # fmt: skip
    results = await asyncio.gather(*attempts)
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1 or isinstance(first, InMemoryChannelLayer)
    if not isinstance(first, InMemoryChannelLayer):  # Redis: shared by both objects
        holder = f"c{winners[0] // 2}"
        assert all(r == holder for r in results if r is not None)


async def test_flush_drops_claims(layer: BaseChannelLayer) -> None:
    table = claims(layer)
    await table.claim("flushed", "x", 30)
    await layer.flush()
    assert await table.claim("flushed", "y", 30) is None


@pytest.mark.parametrize(
    ("key", "ttl"), [("", 1.0), ("a" * 201, 1.0), ("{tag}", 1.0), ("ok", 0.0), ("ok", -1.0)]
)
async def test_bad_arguments_are_refused(layer: BaseChannelLayer, key: str, ttl: float) -> None:
    with pytest.raises(ValueError, match="claim"):
        await claims(layer).claim(key, "v", ttl)


async def test_foreign_layers_get_a_local_table() -> None:
    from channels.layers import InMemoryChannelLayer as ChannelsInMemory

    adapter = ChannelsLayerAdapter(ChannelsInMemory())
    table = claims_of(adapter)
    assert isinstance(table, LocalClaims)
    assert claims_of(adapter) is table  # one table per layer object
    assert await table.claim("k", "v", 10) is None
    assert await table.claim("k", "w", 10) == "v"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


operations = st.lists(
    st.one_of(
        st.tuples(st.just("claim"), st.sampled_from("abcdef"), st.integers(1, 5)),
        st.tuples(st.just("set"), st.sampled_from("abcdef"), st.integers(1, 5)),
        st.tuples(st.just("drop"), st.sampled_from("abcdef"), st.just(0)),
        st.tuples(st.just("tick"), st.just(""), st.integers(0, 6)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(1, 6))
def test_local_claims_match_a_model(ops: list[tuple[str, str, int]], bound: int) -> None:
    """Against a dict with no bound: the same answers, except that the bounded table may
    have forgotten a live claim (which can let a duplicate through) but never invents
    one, and never holds more than its bound."""
    clock = FakeClock()
    table = LocalClaims(max_entries=bound, clock=clock)
    model: dict[str, tuple[str, float]] = {}
    for n, (op, key, arg) in enumerate(ops):
        value = f"v{n}"
        live: Any = model.get(key)
        live = live[0] if live and live[1] > clock.now else None
        if op == "claim":
            got = table.claim_now(key, value, arg)
            assert got is None or got == live
            if live is None:
                assert got is None
                model[key] = (value, clock.now + arg)
            elif got is None:  # forgotten under the bound: the claim is re-made
                model[key] = (value, clock.now + arg)
        elif op == "set":
            table.set_now(key, value, arg)
            model[key] = (value, clock.now + arg)
        elif op == "drop":
            table.drop_now(key)
            model.pop(key, None)
        else:
            clock.now += arg
        assert len(table) <= bound
