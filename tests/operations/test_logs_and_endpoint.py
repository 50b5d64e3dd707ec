"""JSON log lines (context fields, redaction, the access log's fields) and the bounds of
the ``/metrics`` endpoint, over a real socket."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from telephonist.core.memory import InMemoryChannelLayer
from telephonist.logging import (
    JsonFormatter,
    TextFormatter,
    connection_var,
    route_var,
    set_role,
)
from telephonist.runtime.metrics import SnapshotCollector
from telephonist.runtime.metrics_endpoint import MAX_HEAD, MetricsEndpoint
from telephonist.runtime.status import layer_status


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("telephonist.interfaces.irc.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)
    set_role(None)


def test_json_lines_carry_context_and_keep_secrets_out(
    lines: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, _ = lines
    set_role("worker")
    route = route_var.set("route('chat.message', app.chat)")
    connection = connection_var.set("srv.ab12cd.ef34!irc.0123456789abcdef")
    try:
        logger.info(
            "cannot reach redis://ops:hunter2@10.0.0.5:6379/0",
            extra={"password": "hunter2", "url": "rediss://u:hunter2@h/0"},
        )
        try:
            raise ValueError("redis://ops:hunter2@h/0 refused")
        except ValueError:
            logger.exception("failed")
    finally:
        route_var.reset(route)
        connection_var.reset(connection)
    logger.info("outside a consumer")
    text = stream.getvalue()
    assert "hunter2" not in text
    first, second, third = (json.loads(line) for line in text.splitlines())
    assert first["role"] == "worker"
    assert first["interface"] == "irc"
    assert first["route"] == "route('chat.message', app.chat)"
    assert first["connection"].startswith("srv.…!irc.…#")
    assert first["message"] == "cannot reach redis://***@10.0.0.5:6379/0"
    assert first["url"] == "rediss://***@h/0"
    assert "ValueError" in second["exception"]
    assert "route" not in third
    assert "connection" not in third


def test_the_access_log_has_fields_in_json_and_one_line_in_text() -> None:
    record = logging.LogRecord(
        "telephonist.access.http", logging.INFO, __file__, 1,
        '%s "%s %s HTTP/%s" %d %d %.1fms', ("127.0.0.1", "GET", "/x", "1.1", 200, 13, 0.4),
        None,
    )  # fmt: skip
    record.access = {"client": "127.0.0.1", "method": "GET", "status": 200}
    data = json.loads(JsonFormatter().format(record))
    assert data["interface"] == "http"
    assert data["access"]["status"] == 200
    text = TextFormatter().format(record)
    assert text.endswith('127.0.0.1 "GET /x HTTP/1.1" 200 13 0.4ms')


async def _ask(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_metrics_endpoint_serves_only_get_metrics_and_bounds_the_head() -> None:
    layer = InMemoryChannelLayer()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: {"parts": [], "layer": layer_status(layer)}, "x"))
    endpoint = MetricsEndpoint(registry, "127.0.0.1", 0)
    await endpoint.start()
    try:
        (where,) = endpoint.endpoints()
        port = int(where.rsplit(":", 1)[1].split("/")[0])
        ok = await _ask(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = ok.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        assert "telephonist_layer_reports_queues" in names
        assert (await _ask(port, b"GET / HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
        assert (await _ask(port, b"POST /metrics HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 405")
        huge = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD * 2) + b"\r\n\r\n"
        assert (await _ask(port, huge)).startswith(b"HTTP/1.1 431")
        assert (await _ask(port, b"nonsense\r\n\r\n")).startswith(b"HTTP/1.1 400")
    finally:
        await endpoint.stop()
        await layer.close()
