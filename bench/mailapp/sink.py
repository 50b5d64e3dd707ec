"""The anchor: aiosmtpd's ``SMTP`` protocol with a handler that counts each mail and
answers ``250``, on a plain asyncio loop. The least an aiosmtpd-based server can do.

    python -m bench.mailapp.sink PORT
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiosmtpd.smtp import SMTP


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


async def main(port: int) -> None:
    handler = CountingSink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink", loop=loop), "127.0.0.1", port
    )
    print("sink: ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
