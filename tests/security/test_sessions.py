"""Channel sessions cannot be forged or shared (docs/security.md, "Channel sessions").

A real server (``manage.py runserver`` through ``LiveServer``), real WebSocket and HTTP
clients: the key a channel session is stored under, presented as the ``sessionid``
cookie, logs nobody in; the row goes when the socket closes; logins are refused on
reply channels many people share, shown with a real IRC room.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import urllib.request
from typing import Any

import pytest
import websockets
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from telephonist.consumers import Message
from telephonist.django.auth import SharedConnectionError, login
from telephonist.django.sessions import channel_session, session_key_for
from telephonist.django.testing import ConsumerTester, LiveServer
from telephonist.interfaces.irc import IrcConfig
from telephonist.redaction import loggable_channel
from telephonist.routing import route
from telephonist.testing import Outcome
from telephonist.testing.processes import wait_until
from tests.django.testapp import consumers
from tests.irc.conftest import network
from tests.irc.peer import joined
from tests.irc.servers import Ngircd
from tests.irc.stack import IrcStack

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 30.0


def _channel_rows() -> list[Session]:
    return list(Session.objects.filter(session_key__startswith="tph"))


def _get(url: str, cookie: str) -> str:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return str(response.read().decode())


def _browser_login(username: str) -> str:
    """A real login session of ``username``: the ``sessionid`` a browser would hold."""
    client = Client()
    client.force_login(get_user_model().objects.create_user(username))
    return str(client.cookies["sessionid"].value)


async def _rows() -> list[Session]:
    return await asyncio.to_thread(_channel_rows)


def test_a_channel_session_key_does_not_log_anyone_in(
    telephonist_live_server: LiveServer,
) -> None:
    server = telephonist_live_server
    cookie = _browser_login("ann")
    assert _get(server.http_url + "/whoami/", cookie) == "ann"  # the view reads logins

    async def talk() -> None:
        headers = {"Cookie": f"sessionid={cookie}"}
        async with asyncio.timeout(TIMEOUT):
            async with websockets.connect(
                server.ws_url("/user/"), additional_headers=headers
            ) as ws:
                await ws.send("who")
                assert await ws.recv() == "ann"  # the socket is ann's
                [row] = await _rows()
                stored = row.get_decoded()
                # The login is kept under Telephonist's names, not Django's.
                assert "_auth_user_id" not in stored
                assert "_telephonist_auth_user_id" in stored
                forged = await asyncio.to_thread(
                    _get, server.http_url + "/whoami/", row.session_key
                )
                assert forged == "anonymous"
            # Closed: the row goes with the connection (the server's database, polled).
            while await _rows():  # noqa: ASYNC110 (another process's state)
                await asyncio.sleep(0.05)

    asyncio.run(talk())


def test_keys_need_the_secret_key_and_are_not_the_old_hash(settings: Any) -> None:
    reply = "srv.ab12cd.0123456789abcdef!ws.fedcba9876543210"
    key = session_key_for(reply)
    assert key != "tph" + hashlib.sha1(reply.encode()).hexdigest()[:29]  # Channels 1's key
    settings.SECRET_KEY = "another-secret"
    assert session_key_for(reply) != key
    assert len(key) == 32


def test_anonymous_sockets_leave_no_session_rows(telephonist_live_server: LiveServer) -> None:
    url = telephonist_live_server.ws_url("/count/")

    async def one() -> None:
        async with websockets.connect(url) as ws:
            await ws.send("x")  # the count consumer writes its channel session
            assert await ws.recv() == "1"

    async def many() -> None:
        async with asyncio.timeout(300):  # generous: a loaded machine serves 200 slowly
            gate = asyncio.Semaphore(20)

            async def bounded() -> None:
                async with gate:
                    await one()

            await asyncio.gather(*(bounded() for _ in range(200)))

    asyncio.run(many())
    wait_until(lambda: not _channel_rows(), timeout=90, what="every channel session deleted")


def test_channel_session_user_is_refused_on_a_shared_reply_channel(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routing = [route(["irc-client.receive", "email.receive"], consumers.channel_user)]
    with ConsumerTester(routing) as t:
        event = {"text": "login ann", "user": "mallory", "room": "#lobby", "private": False}
        assert t.send("irc-client.receive", event) is Outcome.ERROR
        assert t.send("email.receive", {"text": "who", "user": "m@x"}) is Outcome.ERROR
    assert "shared by everyone in the conversation" in caplog.text
    assert "websocket.*" in caplog.text  # the error says where logins work


@channel_session
def irc_login(message: Message) -> None:
    """An IRC bot that tries to log the speaker in as alice."""
    assert message.reply_channel is not None
    try:
        login(message, get_user_model().objects.get(username="alice"))
    except SharedConnectionError:
        message.reply_channel.send({"text": "refused: this room is shared"})
    else:
        message.reply_channel.send({"text": "mallory is logged in as alice"})


async def test_login_in_a_real_irc_room_is_refused(ngircd: Ngircd, peers: Any) -> None:
    await asyncio.to_thread(get_user_model().objects.create_user, "alice")
    room, nick = "#sec-login", "secloginbot"
    mallory = await peers("mallory").connect(ngircd.port)
    await mallory.join(room)
    config = IrcConfig(networks=(network(ngircd.port, nick, channels=[room]),))
    stack = await IrcStack.start(config, [route("irc-client.receive", irc_login)])
    try:
        await mallory.expect(joined(nick, room))
        mallory.send(f"PRIVMSG {room} :log me in")
        (answer,) = await mallory.privmsgs(room, 1, sender=nick, within=TIMEOUT)
    finally:
        await stack.stop()
    assert answer.line.param(1) == "refused: this room is shared"
    stored = await asyncio.to_thread(lambda: [r.get_decoded() for r in _channel_rows()])
    assert not any("_telephonist_auth_user_id" in data for data in stored)


def test_logs_do_not_name_reply_channels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "telephonist.django.sessions")
    routing = [route("websocket.receive", consumers.ordered)]
    with ConsumerTester(routing) as t:
        t.send("websocket.receive", {"order": 0})
        t.send("websocket.receive", {"order": 5})  # out of order: a warning about it
    assert t.reply_channel not in caplog.text
    assert loggable_channel(t.reply_channel) in caplog.text
    assert loggable_channel(t.reply_channel).endswith(
        hashlib.sha256(t.reply_channel.encode()).hexdigest()[:6]
    )
