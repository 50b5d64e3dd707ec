"""The reply parser behind every Redis connection of the layer (``wire.py``): the pure
Python one must read exactly what hiredis reads, however the bytes are split, and the
layer must work on it alone (hiredis is optional for users; the dev extra installs it, so
both parsers are tested)."""

from __future__ import annotations

import asyncio
from typing import Any

import hiredis
import pytest
from redis.exceptions import NoScriptError, ResponseError

from telephonist.core.redis import wire
from tests.servers import RedisServer

from .conftest import MakeLayer, T

STREAM = (
    b"+OK\r\n:42\r\n$-1\r\n*-1\r\n$0\r\n\r\n$5\r\nhe\r\no\r\n"
    b"*2\r\n$4\r\nkey1\r\n*3\r\n$3\r\na|b\r\n$1\r\nc\r\n:-7\r\n"
    b"-NOSCRIPT No matching script.\r\n-ERR unknown command 'BLMPOP'\r\n*0\r\n"
)
EXPECTED: list[Any] = [
    b"OK",
    42,
    None,
    None,
    b"",
    b"he\r\no",
    [b"key1", [b"a|b", b"c", -7]],
    NoScriptError,
    ResponseError,
    [],
]


def _read_all(reader: Any, chunks: list[bytes]) -> list[Any]:
    out = []
    for chunk in chunks:
        reader.feed(chunk)
        while (reply := reader.gets()) is not False:
            out.append(reply)
    return out


def _same(got: list[Any]) -> None:
    assert len(got) == len(EXPECTED)
    for reply, expected in zip(got, EXPECTED, strict=True):
        if isinstance(expected, type):
            assert type(reply) is expected, reply
        else:
            assert reply == expected


@pytest.mark.parametrize("size", [1, 2, 7, len(STREAM)])
def test_pure_python_parser_reads_any_split(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    _same(_read_all(wire.PyReader(), chunks))


def test_hiredis_parser_reads_the_same() -> None:
    reader = wire.make_reader()
    assert isinstance(reader, hiredis.Reader)
    _same(_read_all(reader, [STREAM[:13], STREAM[13:]]))


def test_a_large_reply_in_many_chunks() -> None:
    items = [b"x" * 1000 + str(i).encode() for i in range(300)]
    data = b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)
    reader = wire.PyReader()
    got = _read_all(reader, [data[i : i + 1500] for i in range(0, len(data), 1500)])
    assert got == [items]


async def test_the_layer_works_without_hiredis(
    server: RedisServer, make_layer: MakeLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire, "make_reader", lambda prefer_hiredis=True: wire.PyReader())
    layer = make_layer([server.url])
    own = await layer.new_channel()
    await layer.group_add("g", own)
    await layer.send_many([("work", {"type": "n", "i": i}) for i in range(20)])
    got = await asyncio.wait_for(layer.receive_many("work", 20), T)
    assert [m["i"] for m in got] == list(range(20))
    await layer.group_send("g", {"type": "hello"})
    assert await asyncio.wait_for(layer.receive(own), T) == {"type": "hello"}
