"""Interface discovery: the out-of-tree plugin is found like any other, broken plugins are
reported without stopping anyone, and options are validated by the plugin's own model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel
from telephonist_linechat import LineChatConfig, LineChatInterface

from telephonist.config import ConfigError
from telephonist.interfaces.base import Interface, InterfaceConfig
from telephonist.interfaces.plugins import (
    configure,
    describe_options,
    discover,
    enabled_interfaces,
)


@pytest.fixture
def broken_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (if tiny) installed distribution whose entry points are all wrong."""
    info = tmp_path / "broken_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [telephonist.interfaces]
            missing = no_such_module_anywhere:Thing
            notaclass = json:dumps
            misnamed = telephonist_linechat:LineChatInterface
            abstract = telephonist.interfaces.base:Interface
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_the_out_of_tree_plugin_is_discovered_through_its_entry_point() -> None:
    plugin = discover(["linechat"])["linechat"]
    assert plugin.error is None
    assert plugin.cls is LineChatInterface
    assert plugin.distribution == "telephonist-linechat 0.1.0"
    assert plugin.target == "telephonist_linechat:LineChatInterface"


@pytest.mark.usefixtures("broken_dist")
def test_broken_plugins_are_reported_and_the_rest_still_load() -> None:
    found = discover()
    assert found["linechat"].cls is LineChatInterface
    assert "cannot import no_such_module_anywhere:Thing" in (found["missing"].error or "")
    assert "is not a subclass of telephonist.interfaces.base.Interface" in (
        found["notaclass"].error or ""
    )
    assert "LineChatInterface.name is 'linechat' but the entry point is 'misnamed'" in (
        found["misnamed"].error or ""
    )
    assert "does not set the class attribute 'name'" in (found["abstract"].error or "")
    assert all(found[n].cls is None for n in ("missing", "notaclass", "misnamed", "abstract"))


@pytest.mark.usefixtures("broken_dist")
def test_only_enabled_plugins_are_imported_and_enabling_a_broken_one_fails() -> None:
    assert set(discover(["linechat"])) == {"linechat"}
    plugins = discover(["linechat", "missing"])
    with pytest.raises(ConfigError) as info:
        enabled_interfaces({"linechat": {}, "missing": {}}, plugins)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("interfaces.missing: plugin is broken: cannot import")


def test_options_are_validated_by_the_plugin_model_naming_key_and_value() -> None:
    plugin = discover(["linechat"])["linechat"]
    with pytest.raises(ConfigError) as info:
        configure(plugin, {"port": "abc", "colour": "red"})
    assert info.value.problems == [
        "interfaces.linechat.port: Input should be a valid integer (got 'abc')",
        "interfaces.linechat.colour: Extra inputs are not permitted (got 'red')",
    ]


def test_runtime_keys_are_the_runtime_s_and_disabled_interfaces_are_skipped() -> None:
    plugins = discover(["linechat"])
    configured = configure(plugins["linechat"], {"port": 0, "on_startup": "app.hooks.opened"})
    assert isinstance(configured.config, LineChatConfig)
    assert configured.config.port == 0
    assert configured.on_startup == ("app.hooks.opened",)
    assert enabled_interfaces({"linechat": {"enabled": False}}, plugins) == []
    with pytest.raises(ConfigError, match="expected a list of dotted paths"):
        configure(plugins["linechat"], {"on_shutdown": 3})


def test_unknown_interface_names_are_errors() -> None:
    with pytest.raises(ConfigError, match=r"interfaces\.gopher: no interface of that name"):
        enabled_interfaces({"gopher": {}}, discover(["gopher"]))


class _Inner(BaseModel):
    depth: int = 2


class _Config(InterfaceConfig):
    size: int = 3
    nested: _Inner = _Inner()
    tags: list[str] = []


class _Plugin(Interface):
    name = "described"
    config_model = _Config

    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float) -> None: ...


def test_options_are_described_with_dotted_keys_types_and_defaults() -> None:
    rows = {row[0]: row[1:3] for row in describe_options(_Plugin.config_model)}
    assert rows["size"] == ("int", "3")
    assert rows["nested.depth"] == ("int", "2")
    assert rows["tags"] == ("list[str]", "[]")
    assert rows["enabled"] == ("bool", "true")
    assert rows["on_startup"] == ("list[str]", "[]")
