"""The host's edge behaviour through the linechat plugin, in a real ``telephonist serve``
process with no worker at all: limits, overload answered in the protocol, and a
connection whose first event nobody takes is closed rather than left hanging."""

from __future__ import annotations

import time
from collections.abc import Callable

from .conftest import ChatClient, Spawn


def test_a_connection_nobody_takes_is_aborted_within_the_bind_timeout(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("serve", "-s", "affinity.bind_timeout=0.5").ready()
    assert "the in-memory layer reaches no other process" in proc.stderr()
    client = clients(proc.endpoint())
    began = time.monotonic()
    client.send("anyone there?")
    assert client.line() == "error: connection aborted (no worker took its first event in time)"
    assert client.line() == ""
    assert time.monotonic() - began < 5


def test_events_beyond_the_pending_buffer_are_answered_with_overload(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn(
        "serve", "-s", "affinity.pending_limit=1", "-s", "affinity.bind_timeout=60"
    ).ready()
    client = clients(proc.endpoint())
    client.send("buffered")
    client.send("one too many")
    assert client.line() == "error: server overloaded, slow down"


def test_a_full_shared_channel_is_answered_with_overload(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("serve", "-s", "layer.CONFIG.capacity=1", "-s", "affinity.bind_timeout=60").ready()
    first = clients(proc.endpoint())
    first.send("hello")  # its connect event fills linechat.connect (capacity 1)
    second = clients(proc.endpoint())
    assert second.line() == "error: server overloaded, try again later"
    assert second.line() == ""


def test_line_length_and_connection_limits(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn(
        "serve",
        "-s",
        "interfaces.linechat.max_line_bytes=16",
        "-s",
        "interfaces.linechat.max_connections=1",
        "-s",
        "affinity.bind_timeout=60",
    ).ready()
    first = clients(proc.endpoint())
    second = clients(proc.endpoint())
    assert second.line() == "error: too many connections, try again later"
    assert second.line() == ""
    first.send("x" * 40)
    assert first.line() == "error: line too long (max 16 bytes)"
    assert first.line() == ""
