"""Configuration: sources, precedence, the environment rule and errors that name keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephonist.config import ConfigError, load_config, parse_value


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./telephonist.toml of the test run's directory may leak in."""
    monkeypatch.chdir(tmp_path)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "telephonist.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file() -> None:
    config = load_config(environ={})
    assert config.layer.BACKEND == "memory"
    assert config.worker.concurrency == 64
    assert config.server.drain_timeout == 10.0
    assert config.affinity.heartbeat_misses == 3
    assert config.log_format == "text"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        """
        routing = "app.routes"
        [worker]
        concurrency = 8
        threads = 2
        [interfaces.linechat]
        port = 7001
        room = "hall"
        """,
    )
    env = {
        "TELEPHONIST_WORKER__CONCURRENCY": "16",
        "TELEPHONIST_INTERFACES__LINECHAT__PORT": "7002",
    }
    config = load_config(path, environ=env, overrides=["interfaces.linechat.port=7003"])
    assert config.worker.concurrency == 16  # env over file
    assert config.worker.threads == 2  # untouched keys of a table survive the merge
    assert config.interfaces["linechat"] == {"port": 7003, "room": "hall"}  # --set wins
    assert config.routing == "app.routes"


def test_environment_nesting_and_layer_keys() -> None:
    env = {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG__HOSTS": '["redis://10.0.0.5:6379"]',
        "TELEPHONIST_LAYER__CONFIG__CAPACITY": "500",
        "TELEPHONIST_WORKER__ONLY": '["linechat.*"]',
        "TELEPHONIST_LOG_FORMAT": "json",
        "UNRELATED": "x",
    }
    config = load_config(environ=env)
    assert config.layer.as_layer_config() == {
        "BACKEND": "redis",
        "CONFIG": {"hosts": ["redis://10.0.0.5:6379"], "capacity": 500},
    }
    assert config.worker.only == ["linechat.*"]
    assert config.log_format == "json"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'routing = "from.file"\n')
    config = load_config(environ={"TELEPHONIST_CONFIG": str(path)})
    assert config.routing == "from.file"


def test_extra_sources_are_the_lowest_layer(tmp_path: Path) -> None:
    """The seam Django settings plug into: below the file, the env and --set."""
    path = _toml(tmp_path, "[worker]\nthreads = 3\n")
    config = load_config(
        path,
        environ={},
        sources=[lambda: {"routing": "django.routes", "worker": {"threads": 9, "concurrency": 5}}],
    )
    assert config.routing == "django.routes"
    assert config.worker.threads == 3
    assert config.worker.concurrency == 5


REDIS_LAYER = """
[layer]
BACKEND = "redis"
CONFIG = { hosts = ["redis://10.0.0.5:6379"], prefix = "app" }
"""


def test_another_backend_replaces_the_whole_layer(tmp_path: Path) -> None:
    """A Redis ``hosts`` means nothing to the in-memory layer (which refused it)."""
    path = _toml(tmp_path, REDIS_LAYER)
    config = load_config(path, environ={"TELEPHONIST_LAYER__BACKEND": "memory"})
    assert config.layer.as_layer_config() == {"BACKEND": "memory", "CONFIG": {}}
    config = load_config(path, environ={}, overrides=["layer.BACKEND=memory"])
    assert config.layer.as_layer_config() == {"BACKEND": "memory", "CONFIG": {}}
    # From Django's settings (an extra source) too.
    django = {"layer": {"BACKEND": "redis", "CONFIG": {"hosts": ["redis://x:6379"]}}}
    config = load_config(environ={"TELEPHONIST_LAYER__BACKEND": "memory"}, sources=[lambda: django])
    assert config.layer.as_layer_config() == {"BACKEND": "memory", "CONFIG": {}}


def test_a_config_given_with_the_new_backend_is_its_config(tmp_path: Path) -> None:
    path = _toml(tmp_path, REDIS_LAYER)
    env = {"TELEPHONIST_LAYER__BACKEND": "memory", "TELEPHONIST_LAYER__CONFIG__CAPACITY": "5"}
    config = load_config(path, environ=env)
    assert config.layer.as_layer_config() == {"BACKEND": "memory", "CONFIG": {"capacity": 5}}
    # From a default (memory) layer with options to Redis: the options go as well.
    memory = _toml(tmp_path, "[layer]\nCONFIG = { capacity = 5 }\n")
    config = load_config(memory, environ={"TELEPHONIST_LAYER__BACKEND": "redis"})
    assert config.layer.as_layer_config() == {"BACKEND": "redis", "CONFIG": {}}


def test_the_same_backend_keeps_merging_options(tmp_path: Path) -> None:
    path = _toml(tmp_path, REDIS_LAYER)
    env = {"TELEPHONIST_LAYER__BACKEND": "redis", "TELEPHONIST_LAYER__CONFIG__PREFIX": "other"}
    config = load_config(path, environ=env)
    assert config.layer.CONFIG == {"hosts": ["redis://10.0.0.5:6379"], "prefix": "other"}
    config = load_config(path, environ={"TELEPHONIST_LAYER__CONFIG__CAPACITY": "9"})
    assert config.layer.CONFIG == {
        "hosts": ["redis://10.0.0.5:6379"],
        "prefix": "app",
        "capacity": 9,
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7001", 7001),
        ("true", True),
        ("1.5", 1.5),
        ('["a"]', ["a"]),
        ("plain", "plain"),
        ('"7"', "7"),
    ],
)
def test_values_are_json_when_they_parse(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_errors_name_every_offending_key_and_value(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[worker]\nconcurrency = "many"\nthreds = 4\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"TELEPHONIST_SERVER__DRAIN_TIMEOUT": "-1"})
    assert info.value.problems == [
        "server.drain_timeout: Input should be greater than 0 (got -1)",
        "worker.concurrency: Input should be a valid integer (got 'many')",
        "worker.threds: Extra inputs are not permitted (got 4)",
    ]


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
    bad = _toml(tmp_path, "routing = \n")
    with pytest.raises(ConfigError, match=r"telephonist\.toml"):
        load_config(bad, environ={})


def test_bad_overrides_are_explained() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(environ={}, overrides=["no-equals-sign"])
    with pytest.raises(ConfigError, match="empty key segment"):
        load_config(environ={"TELEPHONIST_WORKER____X": "1"})
