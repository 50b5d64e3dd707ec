"""What `make run` shows until the interface servers land: the channel layer at work.

A producer and a consumer share a channel, a group fans one message out to many
process-specific channels, and a full channel answers ChannelFull at once.
"""

from __future__ import annotations

import asyncio
import time

from telephonist.core.layers import ChannelFull, make_channel_layer


async def main() -> None:
    layer = make_channel_layer({"BACKEND": "memory", "CONFIG": {"capacity": 1000}})
    n = 20_000

    async def consume() -> None:
        for _ in range(n // 100):
            await layer.receive_many("demo.work", 100)

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    for i in range(n):
        while True:
            try:
                await layer.send("demo.work", {"type": "demo.item", "i": i})
                break
            except ChannelFull:
                await asyncio.sleep(0)  # let the consumer drain: this is backpressure
    await consumer
    print(f"send+receive: {n / (time.perf_counter() - start):,.0f} msgs/s on one channel")

    members = [await layer.new_channel() for _ in range(1000)]
    for channel in members:
        await layer.group_add("demo.room", channel)
    start = time.perf_counter()
    await layer.group_send("demo.room", {"type": "chat.message", "text": "hello, room"})
    for channel in members:
        await layer.receive(channel)
    print(
        f"group_send to 1,000 members, all received: {(time.perf_counter() - start) * 1000:.1f} ms"
    )

    small = make_channel_layer({"BACKEND": "memory", "CONFIG": {"capacity": 1}})
    await small.send("demo.small", {"type": "one"})
    try:
        await small.send("demo.small", {"type": "two"})
    except ChannelFull as exc:
        print(f"backpressure: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    asyncio.run(main())
