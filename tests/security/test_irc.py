"""IRC (docs/security.md, "IRC"): no password in clear unless allowed; a private
conversation is a room of its own. Against a real ngircd, with raw-socket peers."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from telephonist.consumers import ChatConsumer, room_group
from telephonist.interfaces.irc import IrcConfig, NetworkConfig, spec
from telephonist.interfaces.irc.config import EVENT_KINDS
from telephonist.routing import route_class
from tests.irc.conftest import network
from tests.irc.servers import Ngircd
from tests.irc.stack import IrcStack
from tests.security.test_secrets import LockedNgircd

TIMEOUT = 20.0


def test_passwords_over_plaintext_are_refused_unless_allowed() -> None:
    base = {"name": "n", "host": "irc.example", "nick": "bot", "tls": False}
    with pytest.raises(ValidationError, match=r"PASS.*in clear"):
        NetworkConfig.model_validate({**base, "password": "pw"})
    with pytest.raises(ValidationError, match=r"SASL PLAIN .*in clear"):
        NetworkConfig.model_validate({**base, "sasl_mechanism": "plain", "sasl_password": "pw"})
    allowed = NetworkConfig.model_validate({**base, "password": "pw", "allow_plaintext_auth": True})
    assert allowed.password is not None
    assert NetworkConfig.model_validate({**base, "tls": True, "password": "pw"}).tls


def test_the_cli_says_why_it_refuses(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "telephonist.toml").write_text(
        '[interfaces.irc]\n[[interfaces.irc.networks]]\nname = "n"\nhost = "127.0.0.1"\n'
        'nick = "b"\ntls = false\npassword = "pw"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "telephonist.cli", "serve"], cwd=tmp_path,
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "interfaces.irc.networks.0: Value error, password (PASS) over tls = false" in done.stderr
    assert "allow_plaintext_auth" in done.stderr


async def test_an_allowed_plaintext_password_registers(tmp_path: Path) -> None:
    server = LockedNgircd(tmp_path / "ngircd", password="plain-pw").start()
    try:
        config = network(server.port, "plainbot", password="plain-pw", allow_plaintext_auth=True)
        stack = await IrcStack.start(IrcConfig(networks=(config,), events=EVENT_KINDS))
        try:
            connect = await stack.next_event(spec.CONNECT, within=TIMEOUT)
        finally:
            await stack.stop()
    finally:
        server.stop()
    assert connect["nick"] == "plainbot"


class Echo(ChatConsumer):
    """Says every line back to the room it came from."""

    def on_chat(self, text: str, user: str, room: str) -> None:
        self.say(room, f"{user}: {text}")


async def test_the_nick_lobby_is_not_in_the_room_lobby(ngircd: Ngircd, peers: Any) -> None:
    stack = await IrcStack.start(
        IrcConfig(networks=(network(ngircd.port, "nsbot"),)), [route_class(Echo)]
    )
    try:
        # Someone in the web room "lobby" (a member of its group, as a socket would be).
        web = await stack.layer.new_channel("web.")
        await stack.layer.group_add(room_group("lobby"), web)
        lobby = await peers("lobby").connect(ngircd.port)
        await _wait_registered(stack)
        lobby.send("PRIVMSG nsbot :hello from a nick")
        (answer,) = await lobby.privmsgs("lobby", 1, sender="nsbot", within=TIMEOUT)
        depths = stack.layer.depths()
    finally:
        await stack.stop()
    # The line went back to the private conversation, and nowhere near the web room.
    assert answer.line.param(1) == "lobby: hello from a nick"
    assert web not in depths


async def _wait_registered(stack: IrcStack) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not stack.interface.clients["test"].registered:  # noqa: ASYNC110 (its state)
            await asyncio.sleep(0.02)
