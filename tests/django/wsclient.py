"""The tests' WebSocket client for a served Django project: texts sent one at a time,
each answer awaited before the next is sent."""

from __future__ import annotations

import asyncio

import websockets

__all__ = ["talk"]


def talk(url: str, *texts: str, timeout: float = 30.0) -> list[str]:
    """Connect to ``url``, send each text and wait for one answer to it; the answers, in
    order. The whole conversation is bounded by ``timeout``."""

    async def run() -> list[str]:
        async with asyncio.timeout(timeout), websockets.connect(url) as ws:
            answers = []
            for text in texts:
                await ws.send(text)
                answers.append(str(await ws.recv()))
            return answers

    return asyncio.run(run())
