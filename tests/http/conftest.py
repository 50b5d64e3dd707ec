"""Every async test here runs on the session's event loop: Twisted's reactor is a
process-wide singleton bound to one loop (see ``harness.twisted_reactor``)."""

from __future__ import annotations

import inspect

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if ("/tests/http/" in path or "/tests/websocket/" in path) and inspect.iscoroutinefunction(
            getattr(item, "function", None)
        ):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)
