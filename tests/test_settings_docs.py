"""The settings tables in docs/ against the config models, and ``telephonist interfaces``
describing every option from the same models: the docs, the command and the code cannot
drift apart.

A table is found by the TOML table it documents, named in backticks just above it
(``[interfaces.http]``, ``[[interfaces.irc.networks]]``, ``[interfaces.email.relay]``).
Its keys must be exactly the model's keys at that level, and a default written as one
literal (``5``, ``true``, ``"auto"``, ``[]``) must be the model's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, SecretStr

from telephonist.config.describe import MASK, Option, describe_model
from telephonist.interfaces.base import InterfaceConfig
from telephonist.interfaces.plugins import RUNTIME_KEYS, discover, options_of

ROOT = Path(__file__).resolve().parents[1]
BUILT_IN = ("email", "http", "irc", "slack")
PAGES = ("http.md", "websocket.md", "irc.md", "email.md", "slack.md")
_TABLE_NAME = re.compile(r"`\[(\[?)interfaces\.([\w.]+)\]\]?`")


def _tables(page: str) -> list[tuple[str, str, list[list[str]]]]:
    """``(page, TOML table, rows)`` of each settings table on ``page``."""
    found = []
    lines = (ROOT / "docs" / page).read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("| setting |"):
            continue
        names = [m for back in lines[max(0, i - 4) : i] for m in _TABLE_NAME.findall(back)]
        assert names, f"{page}:{i + 1}: a settings table without its [interfaces...] above"
        is_list, path = names[-1]
        rows = []
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            rows.append([c.strip() for c in row.strip().strip("|").split(" | ")])
        found.append((page, ("[]" if is_list else "") + path, rows))
    return found


TABLES = [t for page in PAGES for t in _tables(page)]


def _level(path: str) -> tuple[str, list[Option]]:
    """The interface and its options directly in TOML table ``path``."""
    is_list = path.startswith("[]")
    name, *rest = path.removeprefix("[]").split(".")
    prefix = ".".join(rest) + ("[]." if is_list else ".") if rest else ""
    plugin = discover([name])[name]
    assert plugin.cls is not None, plugin.error
    options = [
        o
        for o in describe_model(plugin.cls.config_model)
        if o.key.startswith(prefix) and not re.search(r"[.\[]", o.key.removeprefix(prefix))
    ]
    return prefix, options


def test_every_built_in_settings_table_is_found() -> None:
    paths = {path for _, path, _ in TABLES}
    assert paths == {
        "http",
        "http.websocket",
        "http.http2",
        "irc",
        "[]irc.networks",
        "email",
        "email.relay",
        "slack",
        "slack.oauth",
    }


@pytest.mark.parametrize(("page", "path", "rows"), TABLES, ids=[t[1] for t in TABLES])
def test_a_settings_table_has_exactly_the_models_keys(
    page: str, path: str, rows: list[list[str]]
) -> None:
    prefix, options = _level(path)
    documented = {key for row in rows for key in re.findall(r"`([^`]+)`", row[0])}
    expected = {o.key.removeprefix(prefix) for o in options}
    assert sorted(expected - documented) == [], f"{page}: undocumented in [{path}]"
    assert sorted(documented - expected) == [], f"{page}: no such setting in [{path}]"


def _literal(cell: str) -> Any:
    """The documented default when it is one literal, else ``...`` (prose, units)."""
    found = re.fullmatch(r"`([^`]*)`", cell)
    if found is None:
        return ...
    text = found.group(1)
    words = {"true": True, "false": False, "True": True, "False": False}
    if text in words:
        return words[text]
    if text in ("None", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # a bare string: `auto`, `/slack/events`


@pytest.mark.parametrize(("page", "path", "rows"), TABLES, ids=[t[1] for t in TABLES])
def test_a_documented_default_is_the_models(page: str, path: str, rows: list[list[str]]) -> None:
    prefix, options = _level(path)
    defaults = {o.key.removeprefix(prefix): o for o in options}
    checked = 0
    for row in rows:
        keys = re.findall(r"`([^`]+)`", row[0])
        if len(keys) != 1 or keys[0] not in defaults:
            continue  # a row of several keys says their defaults in words
        documented = _literal(row[1])
        option = defaults[keys[0]]
        if documented is ... or option.default.startswith("("):
            continue
        assert documented == json.loads(option.default), f"{page}: [{path}] {keys[0]}"
        checked += 1
    assert checked >= len(rows) // 3, f"{page}: too few defaults written as a literal"


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_option_of_a_built_in_interface_is_described(name: str) -> None:
    plugin = discover([name])[name]
    assert plugin.cls is not None
    missing = [o.key for o in options_of(plugin.cls.config_model) if not o.description]
    assert missing == []


class _Nested(BaseModel):
    depth: int = Field(2, ge=1, le=9, description="how deep")
    password: SecretStr | None = None


class _Described(InterfaceConfig):
    #: A token with a default that must never be shown.
    token: SecretStr = SecretStr("hunter2")
    nested: _Nested = Field(default_factory=_Nested)
    many: tuple[_Nested, ...] = ()
    named: dict[str, _Nested] = Field(default_factory=dict)


def test_nested_tables_lists_and_names_each_get_their_keys_and_secrets_stay_masked() -> None:
    rows = {o.key: o for o in describe_model(_Described)}
    assert list(rows) == [
        "enabled",
        "token",
        "nested",
        "nested.depth",
        "nested.password",
        "many",
        "many[].depth",
        "many[].password",
        "named",
        "named.<name>.depth",
        "named.<name>.password",
    ]
    assert rows["token"].default == MASK
    assert rows["token"].secret
    assert rows["token"].description == "A token with a default that must never be shown."
    assert (rows["nested.depth"].type, rows["nested.depth"].default) == ("int", "2")
    assert rows["nested.depth"].bounds == ">= 1, <= 9"
    assert rows["many"].type == "list[table]"
    assert rows["named.<name>.password"].type == "secret | None"
    assert "hunter2" not in repr(list(rows.values()))


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "telephonist.cli", "interfaces", *args],
        capture_output=True, text=True, timeout=60, check=True, cwd=ROOT,
    )  # fmt: skip
    return done.stdout


def test_the_command_lists_nested_irc_options_with_their_descriptions() -> None:
    text = _cli()
    irc = text.split("\nirc  (", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"^  networks\[\]\.port +int +default 6697 +\(>= 1, <= 65535\)$", irc, re.M)
    assert "      Server port: 6697 is IRC over TLS" in irc
    assert re.search(r"^  networks\[\]\.sasl_password +secret \| None +default null$", irc, re.M)
    assert re.search(r"^  networks\[\]\.channels\[\]\.key ", irc, re.M)
    assert "NetworkConfig" not in text


def test_the_json_document_has_every_option_of_every_interface() -> None:
    doc = json.loads(_cli("--json"))
    for name in BUILT_IN:
        plugin = discover([name])[name]
        assert plugin.cls is not None
        assert doc[name]["options"] == [o.as_dict() for o in options_of(plugin.cls.config_model)]
        keys = [o["key"] for o in doc[name]["options"]]
        assert keys[-len(RUNTIME_KEYS) :] == list(RUNTIME_KEYS)
    slack = {o["key"]: o for o in doc["slack"]["options"]}
    assert slack["oauth.client_secret"]["secret"] is True
    assert slack["teams.<name>.bot_token"]["type"] == "secret"
