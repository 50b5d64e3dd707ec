"""docs/slack.md says what was built: its examples run, and it names every setting (with
its default), channel, reply action and counter."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from telephonist.config import TelephonistConfig
from telephonist.interfaces.slack import SlackConfig, spec
from telephonist.interfaces.slack.config import OAuthConfig

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "slack.md").read_text()
SOURCE = ROOT / "telephonist" / "interfaces" / "slack"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("block", blocks("toml"))
def test_toml_examples_are_valid_settings(block: str) -> None:
    config = TelephonistConfig.model_validate(tomllib.loads(block))
    SlackConfig.model_validate(config.interfaces["slack"])


async def test_the_testing_example_runs() -> None:
    [example] = [b for b in blocks("python") if "async def test_ping" in b]
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/slack.md", "exec"), namespace)
    await namespace["test_ping"]()


def settings_rows() -> dict[str, str]:
    section = DOC[DOC.index("## Settings") : DOC.index("## Counters")]
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \|", section, re.M)
    return dict(rows)


def test_every_setting_is_documented_with_its_default() -> None:
    rows = settings_rows()
    for name, field in SlackConfig.model_fields.items():
        if name == "enabled":
            continue
        assert name in rows, name
        if name != "tiers":
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            assert rows[name].strip("`") == str(default), (name, rows[name], default)


def test_every_oauth_setting_is_documented_with_its_default() -> None:
    section = DOC[DOC.index("`[interfaces.slack.oauth]`:") : DOC.index("## Settings")]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*?) \|", section, re.M))
    for name, field in OAuthConfig.model_fields.items():
        assert name in rows, name
        if field.is_required():
            assert rows[name] == "(required)", name
            continue
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = json.dumps(default) if isinstance(default, list) else str(default)
        assert rows[name].strip("`") == shown, (name, rows[name], default)


def test_every_channel_and_action_is_documented() -> None:
    headings = re.findall(r"^### (.*)$", DOC, re.M)
    for channel in spec.EVENT_CHANNELS:
        assert any(f"`{channel}`" in heading for heading in headings), channel
    section = DOC[DOC.index("### Reply actions") : DOC.index("## Outbound")]
    first_cells = re.findall(r"^\| (.*?) \|", section, re.M)
    for action in spec.ACTION_TYPES:
        assert any(f"`{action}`" in cell for cell in first_cells), action


def test_every_counter_is_documented() -> None:
    counted = set()
    for path in SOURCE.glob("*.py"):
        text = path.read_text()
        counted |= set(re.findall(r"_?count\(\s*\"([a-z_]+)\"", text))
        counted |= set(re.findall(r"counter=\"([a-z_]+)\"", text))
        counted |= set(re.findall(r"(?:Skip|_refuse)\(\s*\"([a-z_]+)\"", text))
        counted |= set(re.findall(r"\"(oauth_[a-z_]+)\"", text))  # the OAuth pages' _Failed
    assert {"received", "duplicates", "api_calls", "ack_payloads"} <= counted
    section = DOC[DOC.index("## Counters") : DOC.index("## Testing with the stand-in")]
    missing = sorted(name for name in counted if f"`{name}`" not in section)
    assert not missing, missing
