"""mypy flags a forgotten ``await`` in async consumers, and nothing in sync ones.

A send typed ``Awaitable`` escapes mypy's ``unused-coroutine`` check, so a forgotten
await in an async consumer silently dropped the message; the async faces are typed as
coroutines instead. This runs the real mypy, as a user's project would, on a snippet
whose lines marked ``# forgotten`` must be the only errors.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = textwrap.dedent(
    """
    from telephonist.consumers import (
        AsyncChannel,
        AsyncChatConsumer,
        AsyncConsumer,
        AsyncGroup,
        AsyncJsonWebsocketConsumer,
        AsyncMessage,
        Channel,
        ChatConsumer,
        Group,
        Message,
        SyncConsumer,
        WebsocketConsumer,
    )


    class Sync(SyncConsumer):
        channels = ("a.b",)

        def a_b(self, message: Message) -> None:
            self.reply({"text": "ok"})
            self.group_send("g", {"text": "ok"})
            assert message.reply_channel is not None
            message.reply_channel.send({"text": "ok"})
            Channel("log").send({})
            Group("g").add("inbox.x")


    class Async(AsyncConsumer):
        channels = ("a.b",)

        async def a_b(self, message: AsyncMessage) -> None:
            self.reply({"text": "lost"})  # forgotten
            self.group_add("g")  # forgotten
            await self.reply({"text": "ok"})
            await self.send_to("log", {})


    class SyncChat(ChatConsumer):
        def on_chat(self, text: str, user: str, room: str) -> None:
            self.say(room, text)


    class AsyncChat(AsyncChatConsumer):
        async def on_chat(self, text: str, user: str, room: str) -> None:
            self.say(room, text)  # forgotten
            await self.reply(text)


    class SyncSocket(WebsocketConsumer):
        def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
            self.send(text_data=text_data)


    class AsyncSocket(AsyncJsonWebsocketConsumer):
        async def receive_json(self, content: object) -> None:
            self.send_json(content)  # forgotten
            await self.close()


    def sync_function(message: Message) -> None:
        assert message.reply_channel is not None
        message.reply_channel.send({"text": "ok"})


    async def async_function(message: AsyncMessage) -> None:
        assert message.reply_channel is not None
        message.reply_channel.send({"text": "lost"})  # forgotten
        AsyncGroup("g").send({})  # forgotten
        AsyncChannel("log").send({})  # forgotten
        await message.channel.send({})
    """
)


def test_mypy_flags_every_forgotten_await_and_nothing_else(tmp_path: Path) -> None:
    snippet = tmp_path / "consumers_snippet.py"
    snippet.write_text(SNIPPET)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",  # the package's own errors are make typecheck's
            "--show-error-codes",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(snippet),
        ],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    flagged = {int(m[1]) for line in errors if (m := re.search(r":(\d+): error: ", line))}
    forgotten = {n for n, line in enumerate(SNIPPET.splitlines(), 1) if "# forgotten" in line}
    assert len(forgotten) == 7
    assert flagged == forgotten, done.stdout + done.stderr
    assert all(line.endswith("[unused-coroutine]") for line in errors), done.stdout
