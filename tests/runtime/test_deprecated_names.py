"""Renamed settings and moved import paths keep working, with a DeprecationWarning.

The concept is the *interface server*: the ``[host]`` table is now ``[server]``,
``telephonist.host`` is ``telephonist.server`` (``Lifespan``: ``telephonist.lifespan``),
and ``telephonist.dispatch`` moved into the worker.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from telephonist.config import ConfigError, ServerSettings, TelephonistConfig, load_config
from telephonist.lifespan import Lifespan
from telephonist.server import InterfaceServer, ReactorError, StartupError, install_asyncio_reactor
from telephonist.worker import dispatch

HOST_TABLE = r"\[host\] settings table is now \[server\]"


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_the_host_table_is_read_as_server_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "telephonist.toml"
    path.write_text('[host]\ndrain_timeout = 3.0\non_startup = ["a.b"]\n')
    with pytest.warns(DeprecationWarning, match=HOST_TABLE):
        config = load_config(path, environ={})
    assert config.server == ServerSettings(drain_timeout=3.0, on_startup=["a.b"])


def test_the_old_name_keeps_its_source_precedence(tmp_path: Path) -> None:
    """Renaming happens per source: an old-named environment variable still beats the
    file, and the new name beats the old one within one source."""
    path = tmp_path / "telephonist.toml"
    path.write_text("[server]\ndrain_timeout = 5.0\n")
    with pytest.warns(DeprecationWarning, match=HOST_TABLE):
        config = load_config(path, environ={"TELEPHONIST_HOST__DRAIN_TIMEOUT": "2"})
    assert config.server.drain_timeout == 2.0
    with pytest.warns(DeprecationWarning, match=HOST_TABLE):
        config = load_config(
            environ={}, overrides=["host.drain_timeout=1", "server.drain_timeout=4"]
        )
    assert config.server.drain_timeout == 4.0


def test_the_new_name_does_not_warn(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    config = load_config(environ={"TELEPHONIST_SERVER__DRAIN_TIMEOUT": "2"})
    assert config.server.drain_timeout == 2.0
    assert [w for w in recwarn if issubclass(w.category, DeprecationWarning)] == []


def test_a_model_built_in_code_accepts_the_old_table() -> None:
    with pytest.warns(DeprecationWarning, match=HOST_TABLE):
        config = TelephonistConfig.model_validate({"host": {"drain_timeout": 7}})
    assert config.server.drain_timeout == 7.0


def test_old_errors_name_the_new_key() -> None:
    with pytest.warns(DeprecationWarning, match=HOST_TABLE), pytest.raises(ConfigError) as info:
        load_config(environ={"TELEPHONIST_HOST__DRAIN_TIMEOUT": "-1"})
    assert info.value.problems == ["server.drain_timeout: Input should be greater than 0 (got -1)"]


def test_host_settings_is_server_settings() -> None:
    import telephonist.config
    import telephonist.config.model

    for module in (telephonist.config, telephonist.config.model):
        with pytest.warns(
            DeprecationWarning,
            match="HostSettings is deprecated: use telephonist.config.ServerSettings",
        ):
            assert module.HostSettings is ServerSettings  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "new"),
    [
        ("InterfaceServer", InterfaceServer),
        ("StartupError", StartupError),
        ("ReactorError", ReactorError),
        ("install_asyncio_reactor", install_asyncio_reactor),
        ("Lifespan", Lifespan),
    ],
)
def test_telephonist_host_names(name: str, new: object) -> None:
    host = importlib.import_module("telephonist.host")
    with pytest.warns(DeprecationWarning, match=rf"telephonist\.host\.{name} is deprecated: use"):
        assert getattr(host, name) is new


def test_from_telephonist_host_import_still_works() -> None:
    with pytest.warns(DeprecationWarning, match="telephonist.host.InterfaceServer is deprecated"):
        from telephonist.host import InterfaceServer as Old
    assert Old is InterfaceServer


@pytest.mark.parametrize("name", ["CONSUME_LATER_KEY", "Dispatcher", "Outcome", "Requeue"])
def test_telephonist_dispatch_names(name: str) -> None:
    old = importlib.import_module("telephonist.dispatch")
    with pytest.warns(
        DeprecationWarning,
        match=rf"telephonist\.dispatch\.{name} is deprecated: use telephonist\.worker\.dispatch",
    ):
        assert getattr(old, name) is getattr(dispatch, name)


def test_unknown_names_are_still_attribute_errors() -> None:
    for module in ("telephonist.host", "telephonist.dispatch", "telephonist.config"):
        with pytest.raises(AttributeError):
            _ = importlib.import_module(module).NoSuchName


def test_the_command_shows_the_warning(tmp_path: Path) -> None:
    """Python hides DeprecationWarning outside __main__; the command shows its own, so
    an operator with an old telephonist.toml learns the new name."""
    (tmp_path / "telephonist.toml").write_text("[host]\ndrain_timeout = 3.0\n")
    result = subprocess.run(
        [sys.executable, "-m", "telephonist.cli", "interfaces", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "DeprecationWarning: the [host] settings table is now [server]" in result.stderr
