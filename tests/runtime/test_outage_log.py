"""``OutageLog``: one line when a dependency goes away, one when it is back, counts
in between; nothing per failure."""

from __future__ import annotations

import logging

import pytest

from telephonist.core.ratelog import OutageLog


def test_two_lines_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    outage = OutageLog(logging.getLogger("test.outage"), "the layer", clock=lambda: now[0])
    outage.ok()  # no outage: nothing to say
    for _ in range(500):
        outage.failed(ConnectionError("refused"))
    assert outage.down
    now[0] = 112.5
    outage.ok()
    outage.ok()
    outage.failed("timed out")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "the layer unreachable: ConnectionError: refused",
        "the layer reachable again after 12.5 s; 500 operations failed meanwhile",
        "the layer unreachable: timed out",
    ]
