"""``get_channel_layer``: the project's layer by alias, as in Channels; ``make_channel_layer``
builds a new one. (Views, commands and shells of a Django project: tests/django.)"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from telephonist.consumers import Channel, Message, SyncConsumer
from telephonist.core.layers import (
    ChannelLayerManager,
    InMemoryChannelLayer,
    InvalidChannelLayerError,
    LayerSettings,
    channel_layers,
    get_channel_layer,
    make_channel_layer,
)
from telephonist.core.sync import SyncLayer, home_loop, sync_layer
from telephonist.routing import route_class
from telephonist.testing import AsyncConsumerTester


def test_each_alias_is_built_once_from_the_settings_read_once() -> None:
    reads: list[int] = []

    def settings() -> LayerSettings:
        reads.append(1)
        return {"default": {"BACKEND": "memory"}, "bulk": {"CONFIG": {}, "BACKEND": "memory"}}

    layers = ChannelLayerManager(settings)
    default = layers["default"]
    assert layers["default"] is default
    assert isinstance(layers["bulk"], InMemoryChannelLayer)
    assert layers["bulk"] is not default
    assert "bulk" in layers
    assert "cache" not in layers
    with pytest.raises(InvalidChannelLayerError, match=r"'cache' .*configured: bulk, default"):
        layers["cache"]
    assert len(reads) == 1


def test_without_django_the_settings_are_telephonist_toml_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "telephonist.toml").write_text(
        '[layer]\nBACKEND = "memory"\nCONFIG = {capacity = 7}\n'
    )
    monkeypatch.setenv("TELEPHONIST_LAYER__CONFIG__EXPIRY", "9")
    layer = ChannelLayerManager()["default"]
    assert isinstance(layer, InMemoryChannelLayer)
    assert (layer.capacity, layer.expiry) == (7, 9)
    monkeypatch.setenv("TELEPHONIST_LAYER__BOGUS", "1")
    with pytest.raises(InvalidChannelLayerError, match=r"(?s)project's layer: .*layer\.bogus"):
        ChannelLayerManager()["default"]


def test_the_running_process_sets_its_own_layer() -> None:
    mine = InMemoryChannelLayer()
    previous = channel_layers.set("default", mine)
    try:
        assert get_channel_layer() is mine
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.append(get_channel_layer("default")))
        thread.start()
        thread.join(10)
        assert seen == [mine]
    finally:
        assert channel_layers.set("default", previous) is mine
    assert get_channel_layer() is not mine


def test_the_old_call_with_a_config_still_builds_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match="make_channel_layer"):
        built = get_channel_layer({"BACKEND": "memory", "CONFIG": {"capacity": 3}})
    assert isinstance(built, InMemoryChannelLayer)
    assert built.capacity == 3
    assert built is not get_channel_layer()
    fresh = make_channel_layer({"BACKEND": "memory"})
    assert fresh is not make_channel_layer({"BACKEND": "memory"})


def test_old_names_still_import_with_a_warning() -> None:
    from telephonist.core import codec, layers

    with pytest.warns(DeprecationWarning, match=r"codec\.Content"):
        assert codec.Message is codec.Content  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match=r"layers\.Content"):
        assert layers.Message is codec.Content  # type: ignore[attr-defined]


class Shout(SyncConsumer):
    channels = ("shout.it",)

    def shout_it(self, message: Message) -> None:
        # The blocking facade over the layer of the worker running this consumer.
        sync_layer(message.channel_layer).send("heard.it", {"thread": threading.get_ident()})


class _LoopBound(InMemoryChannelLayer):
    """Records the loop each send runs on (a subclass: no inline in-memory shortcut)."""

    loops: list[asyncio.AbstractEventLoop]

    async def send(self, channel: str, message: dict[str, object]) -> None:
        self.loops.append(asyncio.get_running_loop())
        await super().send(channel, message)


async def test_in_a_worker_thread_the_facade_runs_on_the_workers_loop() -> None:
    layer = _LoopBound()
    layer.loops = []
    async with AsyncConsumerTester([route_class(Shout)], layer=layer) as t:
        await t.send_and_consume("shout.it", {})
        heard = await t.get_next_message("heard.it")
        assert heard is not None
        assert heard["thread"] != threading.get_ident()  # a worker thread, ...
        # ... whose send ran on this (the worker's) loop: no private loop thread.
        assert layer.loops == [asyncio.get_running_loop()]
        assert sync_layer(layer)._thread is None


def test_home_loop_is_ignored_once_it_stopped() -> None:
    layer = _LoopBound()
    layer.loops = []
    stopped = asyncio.new_event_loop()
    stopped.close()
    facade = SyncLayer(layer)
    try:
        with home_loop(stopped):
            facade.send("a.b", {"n": 1})
        assert len(layer.loops) == 1
        assert layer.loops[0] is not stopped
    finally:
        facade.close()


def test_channel_sends_find_the_layer_given_to_them() -> None:
    layer = get_channel_layer()
    Channel("inbox.project-layer", layer).send({"n": 1})
    assert sync_layer(layer).receive("inbox.project-layer", timeout=10) == {"n": 1}
