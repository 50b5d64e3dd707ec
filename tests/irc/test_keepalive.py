"""Keepalive and lag on an injected clock."""

from __future__ import annotations

from telephonist.interfaces.irc.keepalive import Keepalive


def test_ping_pong_lag_and_death() -> None:
    now = [0.0]
    keepalive = Keepalive(timeout=10, clock=lambda: now[0])
    action, line = keepalive.tick()
    assert action == "ping"
    token = line.split(":", 1)[1]
    now[0] = 0.25
    assert not keepalive.pong("someone-else's")
    assert keepalive.pong(token)
    assert keepalive.lag == 0.25
    now[0] = 5
    action, line = keepalive.tick()
    assert action == "ping"
    assert line.split(":", 1)[1] != token  # a fresh token each time
    now[0] = 9
    assert keepalive.tick() == ("wait", "")  # unanswered but young: no second PING
    now[0] = 15
    action, reason = keepalive.tick()
    assert action == "dead"
    assert "no PONG" in reason
