"""Consumers for ``bench/workers.py``, one per kind of work a worker does:

* ``/async``: an async consumer that answers at once: the worker's own cost per request
  is small, so the interface server and the layer set the pace;
* ``/cpu``: a sync consumer computing for about ``CPU_MS`` of one core (pure Python,
  holding the GIL): the worker's one core sets the pace;
* ``/wait``: a sync consumer waiting ``WAIT_MS`` (a database or HTTP call stand-in,
  releasing the GIL): the worker's ``threads`` set the pace (16 threads / 20 ms = at
  most 800 requests/s per worker).
"""

from __future__ import annotations

import time

from telephonist.consumers import Message
from telephonist.routing import route

CPU_MS = 2.0
WAIT_MS = 20.0
_HEADERS = [[b"content-type", b"text/plain"]]


async def quick(message: Message) -> None:
    reply = message.reply_channel
    assert reply is not None
    await reply.send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await reply.send({"type": "http.response.body", "body": b"ok\n"})


def _answer(message: Message) -> None:
    reply = message.reply_channel
    assert reply is not None
    reply.send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    reply.send({"type": "http.response.body", "body": b"ok\n"})


def compute(message: Message) -> None:
    until = time.thread_time() + CPU_MS / 1000  # CPU time of this thread, not wall time
    n = 0
    while time.thread_time() < until:
        n += sum(i * i for i in range(200))
    _answer(message)


def wait(message: Message) -> None:
    time.sleep(WAIT_MS / 1000)
    _answer(message)


routes = [
    route("http.request", quick, path=r"^/async$"),
    route("http.request", compute, path=r"^/cpu$"),
    route("http.request", wait, path=r"^/wait$"),
]
