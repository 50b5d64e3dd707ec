"""docs/security.md as written: its settings table against the code's defaults, every
test file it names present, and the pages that must point to it pointing to it. (The
commands and configuration of "Running it" are run by ``test_layer_acl.py``.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from telephonist.config.model import StatusSettings
from telephonist.core.redis import RedisChannelLayer
from telephonist.interfaces.email.config import EmailConfig, RelayConfig
from telephonist.interfaces.http.config import HttpConfig
from telephonist.interfaces.irc.config import ChannelSpec, NetworkConfig
from telephonist.interfaces.slack.config import SlackConfig
from telephonist.interfaces.websocket.config import WebSocketConfig

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "security.md").read_text()

#: Dotted prefix in the table -> the model holding those settings (longest first).
MODELS: list[tuple[str, type[BaseModel]]] = [
    ("interfaces.http.websocket.", WebSocketConfig),
    ("interfaces.http.", HttpConfig),
    ("interfaces.email.relay.", RelayConfig),
    ("interfaces.email.", EmailConfig),
    ("interfaces.irc.networks[].", NetworkConfig),
    ("interfaces.slack.", SlackConfig),
    ("status.", StatusSettings),
]


def _rows() -> list[tuple[str, str]]:
    section = PAGE.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)`", section, re.MULTILINE)
    assert len(rows) >= 30
    return rows


def _default(setting: str) -> Any:
    if setting.startswith("layer.CONFIG."):
        import inspect

        name = setting.removeprefix("layer.CONFIG.")
        return inspect.signature(RedisChannelLayer.__init__).parameters[name].default
    for prefix, model in MODELS:
        if setting.startswith(prefix):
            field = model.model_fields[setting.removeprefix(prefix)]
            return field.get_default(call_default_factory=True)
    raise AssertionError(f"no model for {setting}")


@pytest.mark.parametrize(("setting", "documented"), _rows())
def test_each_documented_default_is_the_codes(setting: str, documented: str) -> None:
    value = _default(setting)
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, tuple):
        value = list(value)
    assert json.loads(documented) == value, setting


def test_every_named_test_file_exists() -> None:
    for name in set(re.findall(r"`(test_\w+\.py)`", PAGE)):
        assert (ROOT / "tests" / "security" / name).is_file(), name


@pytest.mark.parametrize("page", ["django.md", "email.md", "irc.md", "websocket.md"])
def test_interface_pages_point_here(page: str) -> None:
    assert "(security.md" in (ROOT / "docs" / page).read_text()


def test_every_secret_setting_is_a_secret() -> None:
    from pydantic import SecretStr

    secret = re.compile(r"password|token|secret|^key$")
    for _, model in MODELS:
        for name, field in model.model_fields.items():
            if secret.search(name) and "SecretStr" not in repr(field.annotation):
                assert name in ("auth_users",), f"{model.__name__}.{name} is not a SecretStr"
    assert EmailConfig.model_fields["auth_users"].annotation == dict[str, SecretStr]
    assert "SecretStr" in repr(ChannelSpec.model_fields["key"].annotation)
