"""The multichat example with Slack: one setting, ``MULTICHAT_SLACK=#lobby``.

* Offline, as a newcomer runs it (no Slack tokens): the example starts the Slack
  stand-in itself, and its page is where a person posts as a Slack user; a line said
  there reaches the room's web page, and the web page's reaches the Slack channel.
* Bridged for real: the example configured with Slack tokens (the stand-in's, served by
  this test) and a real ngircd, one room across two IRC clients, a Slack user driven as
  Slack would (events in over Socket Mode, ``chat.postMessage`` calls observed), a mail
  and two Chromium sessions: every line appears exactly once everywhere else, attributed
  and with its origin; replies, threads, edits, deletes, reactions and ``/me`` are
  mapped or written out readably; the bot's own Slack posts, which Slack echoes back,
  never loop.

Every wait is a bounded wait on something observable; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import websockets.sync.client

from telephonist.chat import excerpt
from telephonist.django.testing import LiveServer
from telephonist.testing.slack import ApiCall, Delivery, SlackStandIn, StandInThread
from tests.django import chatpage
from tests.django.multichat import EXAMPLE, ROOT, irc_user, migrate, smtp_port
from tests.irc.servers import Ngircd
from tests.servers import free_port

WAIT = 20.0


@pytest.fixture
def offline() -> Iterator[tuple[LiveServer, str]]:
    """The example as ``MULTICHAT_SLACK=#lobby make run`` starts it, without tokens."""
    with tempfile.TemporaryDirectory(prefix="multichat-") as tmp:
        port = free_port()
        env = {
            "DJANGO_SETTINGS_MODULE": "multichat.settings",
            "MULTICHAT_DB": str(Path(tmp) / "db.sqlite3"),
            "MULTICHAT_SLACK": "#lobby",
            "MULTICHAT_SLACK_PORT": str(port),
        }
        migrate(env)
        server = LiveServer(
            ["interfaces.email.port=0"], env=env, cwd=EXAMPLE, databases={}, timeout=60
        )
        with server:
            assert "interface slack: socket mode" in server.log, server.log
            assert f"post as a Slack user in #lobby at http://127.0.0.1:{port}/" in server.log
            yield server, f"http://127.0.0.1:{port}"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=WAIT) as answer:
        return json.loads(answer.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=WAIT) as answer:
        return json.loads(answer.read())


def _frame(ws: Any, match: Any) -> dict[str, Any]:
    """The next JSON frame ``match`` accepts (bounded: each recv waits at most WAIT)."""
    for _ in range(200):
        frame: dict[str, Any] = json.loads(ws.recv(timeout=WAIT))
        if match(frame):
            return frame
    raise AssertionError("no such frame in 200")


def test_offline_the_example_runs_the_slack_standin_and_its_page(
    offline: tuple[LiveServer, str],
) -> None:
    server, standin = offline
    with urllib.request.urlopen(f"{standin}/", timeout=WAIT) as page:
        assert b"Slack stand-in" in page.read()
    assert _get(f"{standin}/page/channels") == ["lobby"]
    url = server.ws_url("/chat/lobby/") + "?name=webbob"
    with websockets.sync.client.connect(
        url, open_timeout=WAIT, subprotocols=[websockets.Subprotocol("telephonist.chat.v2")]
    ) as ws:
        # The bot's own join of #lobby (announced at start) links the room to Slack.
        state = _frame(ws, lambda f: f.get("type") == "state")
        assert {"protocol": "slack", "room": "lobby"} in state["links"]
        said = {"user": "sam", "channel": "lobby", "text": "hello from slack"}
        assert _post(f"{standin}/page/say", said) == {"ok": True}
        event = _frame(ws, lambda f: f.get("text") == "hello from slack")
        assert (event["user"], event["protocol"]) == ("sam", "slack")
        ws.send(json.dumps({"text": "hi from the <web>"}))

        def posted() -> list[str]:
            return [m["text"] for m in _get(f"{standin}/page/messages?channel=lobby") if m["bot"]]

        for _ in range(int(WAIT * 10)):  # the page's own poll: at most WAIT seconds
            if posted():
                break
            _frame_or_none(ws)
        assert posted() == ["[web] <webbob> hi from the <web>"]


def _frame_or_none(ws: Any) -> None:
    """Wait up to 0.1 s for a frame (the pace of polling the stand-in's page)."""
    with contextlib.suppress(TimeoutError):
        ws.recv(timeout=0.1)


# -- the whole room: IRC, Slack, mail and two browsers ------------------------------------

BOT = "multichat"
SHOT = ROOT / "docs" / "multichat-slack.png"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandInThread]:
    """A Slack for the example to use, served by this test (its tokens are the example's)."""
    slack = StandInThread().start()
    slack.slack.echo_bot_messages = True  # as Slack does: the bot's posts come back
    yield slack
    slack.stop()


@pytest.fixture(scope="module")
def bridged(ircd: Ngircd, standin: StandInThread) -> Iterator[LiveServer]:
    slack = standin.slack
    standin.call(lambda s: s.add_channel("lobby"))
    with tempfile.TemporaryDirectory(prefix="multichat-") as tmp:
        env = {
            "DJANGO_SETTINGS_MODULE": "multichat.settings",
            "MULTICHAT_DB": str(Path(tmp) / "db.sqlite3"),
            "MULTICHAT_IRC": f"irc://127.0.0.1:{ircd.port}/#lobby?nick={BOT}",
            "MULTICHAT_SLACK": "#lobby",
            "TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN": slack.team.bot_token,
            "TELEPHONIST_INTERFACES__SLACK__APP_TOKEN": slack.app_token,
            "TELEPHONIST_INTERFACES__SLACK__API_URL": slack.api_url,
            "TELEPHONIST_INTERFACES__SLACK__POST_INTERVAL": "0",
            "TELEPHONIST_INTERFACES__SLACK__LOOKUP_TIMEOUT": "2.5",
        }
        migrate(env)
        server = LiveServer(
            ["interfaces.email.port=0"], env=env, cwd=EXAMPLE, databases={}, timeout=60
        )
        with server:
            assert "interface slack: socket mode" in server.log, server.log
            yield server


class SlackUser:
    """Sam, in Slack's #lobby, as Slack would show him to the app."""

    def __init__(self, standin: StandInThread) -> None:
        self.standin = standin
        self.user = standin.call(lambda s: s.add_user("sam", display_name="Sam"))
        self.channel = next(c for c in standin.slack.team.channels.values() if c.name == "lobby")

    def do(self, act: Callable[[SlackStandIn], Delivery]) -> Delivery:
        delivery = self.standin.call(act)
        self.standin.wait(lambda s: delivery.acked())  # the app took it: it is on the layer
        return delivery

    def say(self, text: str, **extra: Any) -> str:
        said = self.do(lambda s: s.message(text, self.user, self.channel, **extra))
        return str(said.payload["event"]["ts"])

    def posts(self) -> list[ApiCall]:
        """What the bot posted in #lobby, in order."""
        return [c for c in list(self.standin.slack.calls)
                if c.method in ("chat.postMessage", "chat.meMessage", "chat.postEphemeral")
                and c.params.get("channel") == self.channel.id]  # fmt: skip

    def wait_posted(self, text: str) -> ApiCall:
        def found(s: SlackStandIn) -> ApiCall | None:
            return next((c for c in self.posts() if c.params.get("text") == text), None)

        return self.standin.wait(lambda s: s.wait_until(lambda: found(s), WAIT))


def _line(driver: Any, text: str) -> Any:
    from selenium.webdriver.common.by import By

    for li in driver.find_elements(By.CSS_SELECTOR, "#log li.msg"):
        if li.find_element(By.CSS_SELECTOR, ".text").text == text:
            return li
    raise AssertionError(f"no line {text!r}")


def test_one_room_across_irc_slack_mail_and_two_browsers(
    bridged: LiveServer, ircd: Ngircd, standin: StandInThread,
    browser: Callable[..., Any], tmp_path: Path,
) -> None:  # fmt: skip
    from selenium.webdriver.common.by import By

    loop = asyncio.new_event_loop()
    carol = loop.run_until_complete(irc_user(ircd.port, "carol"))
    dave = loop.run_until_complete(irc_user(ircd.port, "dave"))
    sam = SlackUser(standin)
    ann, bob = browser(*chatpage.SIZES["desktop"]), browser(*chatpage.SIZES["phone"])
    try:
        chatpage.open_room(ann, bridged, "lobby", "ann")
        chatpage.open_room(bob, bridged, "lobby", "bob")
        sam.do(lambda s: s.membership(sam.user, sam.channel))
        everyone = {("ann", "websocket"), ("bob", "websocket"), ("carol", "irc"),
                    ("dave", "irc"), ("Sam", "slack")}  # fmt: skip
        chatpage.wait(
            ann,
            lambda d: everyone <= {tuple(m) for m in d.execute_script(chatpage.MEMBERS_JS)},
            "members across protocols",
        )

        first = "Good morning! Standup in ten minutes."
        chatpage.say(ann, first)
        chatpage.wait_for_message(bob, first, user="ann", own=False)
        carol.send("PRIVMSG #lobby :On my way, two minutes.")
        chatpage.wait_for_message(ann, "On my way, two minutes.", user="carol", protocol="irc")
        deploy = "Deploy is done, dashboards are green."
        deploy_ts = sam.say(deploy)
        chatpage.wait_for_message(bob, deploy, user="Sam", protocol="slack")

        mail = EmailMessage()
        mail["From"] = "Dan Smith <dan@example.com>"
        mail["To"] = "room-lobby@localhost"
        mail["Subject"] = "release notes"
        mail.set_content("Release notes for 2.4 are in the wiki.\nPlease read before 3pm.")
        with smtplib.SMTP("127.0.0.1", smtp_port(bridged), timeout=WAIT) as smtp:
            smtp.send_message(mail)
        notes = "Release notes for 2.4 are in the wiki.\nPlease read before 3pm."
        chatpage.wait_for_message(ann, notes, user="Dan Smith", protocol="email")

        # Bob answers Sam: in Slack, in Sam's thread; Sam answers in the thread.
        line = _line(bob, deploy)
        line.click()
        line.find_element(By.CSS_SELECTOR, "button[aria-label='Reply']").click()
        chatpage.say(bob, "Nice, thanks Sam!")
        assert chatpage.wait_for_message(ann, "Nice, thanks Sam!", user="bob")["reply"].startswith(
            "↪ Sam"
        )
        threaded = sam.wait_posted("[web] &lt;bob&gt; Nice, thanks Sam!")
        assert threaded.params.get("thread_ts") == deploy_ts
        rollback = "Rollback plan is in the doc."
        rollback_ts = sam.say(rollback, thread_ts=deploy_ts)
        assert chatpage.wait_for_message(ann, rollback, protocol="slack")["reply"].startswith(
            "↪ Sam"
        )

        # Sam edits, reacts, acts and deletes; bob reacts and ann acts, on the web.
        edited = "Deploy is done, all dashboards are green."
        sam.do(lambda s: s.edit(deploy_ts, edited, sam.channel))
        chatpage.wait_for_message(bob, edited, user="Sam")
        sam.do(lambda s: s.reaction("tada", sam.user, sam.channel, deploy_ts))
        chatpage.wait_for_message(ann, edited, reactions=["🎉 1"])
        top = _line(bob, first)
        top.click()
        top.find_element(By.CSS_SELECTOR, "button[aria-label='React']").click()
        top.find_element(By.CSS_SELECTOR, "button[aria-label='React with 👍']").click()
        chatpage.wait_for_message(ann, first, reactions=["👍 1"])
        chatpage.say(ann, "/me waves")
        chatpage.wait_for_message(bob, "* ann waves", user="ann")
        sam.say("is looking at the logs", subtype="me_message")
        chatpage.wait_for_message(ann, "* Sam is looking at the logs", protocol="slack")
        sam.do(lambda s: s.delete(rollback_ts, sam.channel))
        chatpage.wait_for_message(bob, "This message was deleted.", user="Sam")
        last = "That's all, thanks."
        chatpage.say(ann, last)
        chatpage.wait_for_message(bob, last, user="ann")

        # IRC, both clients: every line from elsewhere once, attributed, in order.
        quote = excerpt(deploy, 40)
        expected_irc = [
            f"[web] <ann> {first}",
            f"[slack] <Sam> {deploy}",
            "[mail] <Dan Smith> Release notes for 2.4 are in the wiki.",
            "[mail] <Dan Smith> Please read before 3pm.",
            f"[web] <bob> (↪ Sam: “{quote}”) Nice, thanks Sam!",
            f"[slack] <Sam> (↪ Sam: “{quote}”) {rollback}",
            f"[slack] * Sam edited “{quote}” → {edited}",
            f"[slack] * Sam reacted 🎉 to Sam: “{excerpt(edited, 40)}”",
            f"[web] * bob reacted 👍 to ann: “{excerpt(first, 40)}”",
            "[web] * ann waves",
            "[slack] * Sam is looking at the logs",
            f"[slack] * Sam deleted “{excerpt(rollback, 40)}”",
            f"[web] <ann> {last}",
        ]
        for peer in (carol, dave):
            got = loop.run_until_complete(
                peer.privmsgs("#lobby", len(expected_irc), within=WAIT, sender=BOT)
            )
            assert [r.line.param(1) for r in got] == expected_irc, peer.nick

        # Slack: the same, once each, escaped; nothing of Sam's own came back to him.
        sam.wait_posted(f"[web] &lt;ann&gt; {last}")
        assert [c.params["text"] for c in sam.posts()] == [
            f"[web] &lt;ann&gt; {first}",
            "[irc] &lt;carol&gt; On my way, two minutes.",
            "[mail] &lt;Dan Smith&gt; Release notes for 2.4 are in the wiki.\n"
            "[mail] &lt;Dan Smith&gt; Please read before 3pm.",
            "[web] &lt;bob&gt; Nice, thanks Sam!",
            f"[web] * bob reacted 👍 to ann: “{excerpt(first, 40)}”",
            "[web] * ann waves",
            f"[web] &lt;ann&gt; {last}",
        ]
        # Slack echoed each post back to the app as a message event, which it took
        # (acknowledged) and dropped as its own: no loop.
        bot = standin.slack.team.bot_user.id
        echoes = [d for d in list(standin.slack.socket.deliveries.values())
                  if d.payload.get("event", {}).get("user") == bot]  # fmt: skip
        assert len(echoes) == len(sam.posts())
        assert all(standin.wait(lambda s, d=d: d.acked()) for d in echoes)

        # The page: every line once, its origin on a badge; no sideways scrolling.
        texts = [m["text"] for m in chatpage.messages(ann)]
        assert len(texts) == len(set(texts)) == 9, texts
        badges = {m["protocol"] for m in chatpage.messages(ann)}
        assert badges == {"websocket", "irc", "slack", "email"}
        assert chatpage.overflow(ann) == []
        ann.execute_script("document.getElementById('log').scrollTop = 1e9")
        _photograph(ann, tmp_path)
    finally:
        for peer in (carol, dave):
            loop.run_until_complete(peer.close())
        loop.close()


def _photograph(driver: Any, tmp: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    ActionChains(driver).move_to_element(driver.find_element(By.CLASS_NAME, "brand")).perform()
    driver.find_element(By.ID, "composer-text").click()
    taken = tmp / "slack.png"
    driver.save_screenshot(str(taken))
    assert chatpage.png_size(taken) == chatpage.SIZES["desktop"]
    if os.environ.get("MULTICHAT_SCREENSHOTS"):
        shutil.copy(taken, SHOT)
    assert SHOT.exists(), f"{SHOT} is missing: run with MULTICHAT_SCREENSHOTS=1"
    assert chatpage.png_size(SHOT) == chatpage.png_size(taken), "the committed screenshot is stale"


def test_make_run_says_how_to_bridge_slack() -> None:
    """What ``make run``'s banner says (``manage.py bridges``, which it runs before
    serving; tests/django/test_first_run.py runs ``make run`` itself)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEPHONIST_", "MULTICHAT_"))}
    env["DJANGO_SETTINGS_MODULE"] = "multichat.settings"
    shown = subprocess.run([sys.executable, "manage.py", "bridges"], cwd=EXAMPLE, env=env,
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "    MULTICHAT_SLACK=#lobby make run" in shown.stdout.splitlines()
    assert "post as a Slack user at http://127.0.0.1:8025/" in shown.stdout
    env["MULTICHAT_SLACK"] = "#kitchen"
    shown = subprocess.run([sys.executable, "manage.py", "bridges"], cwd=EXAMPLE, env=env,
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (
        "- Slack: #kitchen bridged to room kitchen, on the offline Slack stand-in" in shown.stdout
    )
    assert "Slack stand-in (no Slack tokens given)" not in shown.stderr, "it never starts one"
