"""Fixtures of the chat tests: the real IRC servers (one of each per session), and the
session loop for every async test here (Twisted's reactor is bound to one loop)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.irc.servers import InspIRCd, Ngircd
from tests.servers import require_service


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/chat/" in str(item.path) and inspect.iscoroutinefunction(
            getattr(item, "function", None)
        ):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest.fixture(scope="session")
def chat_ngircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ngircd]:
    binary = Ngircd.find()
    if binary is None:
        require_service("ngircd (apt install ngircd; scripts/peers/irc.sh)")
    server = Ngircd(Path(tmp_path_factory.mktemp("chat-ngircd")), binary=binary or "").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chat_inspircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InspIRCd]:
    binary = InspIRCd.find()
    if binary is None:
        require_service("inspircd (apt install inspircd; scripts/peers/irc.sh)")
    server = InspIRCd(Path(tmp_path_factory.mktemp("chat-inspircd")), binary=binary or "")
    yield server.start()
    server.stop()
