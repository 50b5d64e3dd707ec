"""The multichat example as people meet it: its own server, real sockets, Chromium.

The example runs in its own process (``LiveServer``: its ``runserver``, on free ports,
with a fresh SQLite file), bridged by its one setting ``MULTICHAT_IRC`` to a private
ngircd. Two headless Chromium sessions (a desktop one and a phone-sized one) open the
room, an IRC user joins the channel and a mail comes to the room's mailbox; the page is
checked the way a person would look at it (who is there and where from, every line once,
long lines wrapped, very long messages collapsed, no sideways scrolling) and
photographed. With ``MULTICHAT_SCREENSHOTS=1`` the photographs replace the ones in
``docs/``; otherwise the test checks those match the page's size.

Every wait is a bounded wait on something observable; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import tempfile
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from telephonist.chat import excerpt
from telephonist.django.testing import LiveServer
from tests.django import chatpage
from tests.django.multichat import BOT, EXAMPLE, ROOT, irc_user, migrate, smtp_port
from tests.irc.servers import Ngircd
from tests.servers import free_port

SHOTS = {"desktop": ROOT / "docs" / "multichat.png", "phone": ROOT / "docs" / "multichat-phone.png"}


@pytest.fixture(scope="module")
def multichat(ircd: Ngircd) -> Iterator[LiveServer]:
    with tempfile.TemporaryDirectory(prefix="multichat-") as tmp:
        env = {
            "DJANGO_SETTINGS_MODULE": "multichat.settings",
            "MULTICHAT_DB": str(Path(tmp) / "db.sqlite3"),
            "MULTICHAT_IRC": f"irc://127.0.0.1:{ircd.port}/#lobby?nick={BOT}",
        }
        migrate(env)
        server = LiveServer(
            ["interfaces.email.port=0"], env=env, cwd=EXAMPLE, databases={}, timeout=60
        )
        with server:
            assert set(server.urls) >= {"http", "email", "irc"}, server.log
            yield server


def photograph(driver: Any, which: str, tmp: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    # As a person leaves it: pointer off the messages, the message box ready.
    ActionChains(driver).move_to_element(driver.find_element(By.CLASS_NAME, "brand")).perform()
    driver.find_element(By.ID, "composer-text").click()
    taken = tmp / f"{which}.png"
    driver.save_screenshot(str(taken))
    assert chatpage.png_size(taken) == chatpage.SIZES[which]
    if os.environ.get("MULTICHAT_SCREENSHOTS"):
        shutil.copy(taken, SHOTS[which])
    assert SHOTS[which].exists(), f"{SHOTS[which]} is missing: run with MULTICHAT_SCREENSHOTS=1"
    assert chatpage.png_size(SHOTS[which]) == chatpage.png_size(taken), (
        "the committed screenshot is stale"
    )


def test_two_browsers_an_irc_user_and_a_mail_in_one_room(
    multichat: LiveServer, ircd: Ngircd, browser: Callable[..., Any], tmp_path: Path
) -> None:
    loop = asyncio.new_event_loop()
    carol = loop.run_until_complete(irc_user(ircd.port, "carol"))
    ann, bob = browser(*chatpage.SIZES["desktop"]), browser(*chatpage.SIZES["phone"])
    try:
        chatpage.open_room(ann, multichat, "lobby", "ann")
        chatpage.open_room(bob, multichat, "lobby", "bob")
        everyone = {("ann", "websocket"), ("bob", "websocket"), ("carol", "irc")}
        chatpage.wait(
            ann,
            lambda d: everyone <= {tuple(m) for m in d.execute_script(chatpage.MEMBERS_JS)},
            "members across protocols",
        )

        chatpage.say(ann, "Good morning! Standup in ten minutes.")
        chatpage.wait_for_message(
            bob, "Good morning! Standup in ten minutes.", user="ann", own=False
        )
        chatpage.wait_for_message(ann, "Good morning! Standup in ten minutes.", own=True)
        line = loop.run_until_complete(
            carol.privmsgs("#lobby", 1, within=chatpage.WAIT, sender=BOT)
        )
        assert line[0].line.param(1) == "[web] <ann> Good morning! Standup in ten minutes."

        carol.send("PRIVMSG #lobby :On my way, two minutes. The build is green.")
        chatpage.wait_for_message(
            ann, "On my way, two minutes. The build is green.", protocol="irc"
        )

        mail = EmailMessage()
        mail["From"] = "Dan Smith <dan@example.com>"
        mail["To"] = "room-lobby@localhost"
        mail["Subject"] = "release notes"
        mail.set_content("Release notes for 2.4 are in the wiki.\nPlease read before 3pm.")
        with smtplib.SMTP("127.0.0.1", smtp_port(multichat), timeout=chatpage.WAIT) as smtp:
            smtp.send_message(mail)
        notes = "Release notes for 2.4 are in the wiki.\nPlease read before 3pm."
        chatpage.wait_for_message(bob, notes, user="Dan Smith", protocol="email")

        # Bob answers carol (a reply) and likes ann's line, with the keyboard.
        from selenium.webdriver.common.by import By

        carol_line = bob.find_elements(By.CSS_SELECTOR, "#log li.msg")[1]
        carol_line.click()  # on a phone a tap on a message shows what can be done with it
        carol_line.find_element(By.CSS_SELECTOR, "button[aria-label='Reply']").click()
        chatpage.say(bob, "Thanks! Joining now.")
        answer = chatpage.wait_for_message(ann, "Thanks! Joining now.", user="bob")
        assert answer["reply"].startswith("↪ carol: On my way")
        first = bob.find_elements(By.CSS_SELECTOR, "#log li.msg")[0]
        first.click()
        first.find_element(By.CSS_SELECTOR, "button[aria-label='React']").click()
        first.find_element(By.CSS_SELECTOR, "button[aria-label='React with 👍']").click()
        chatpage.wait_for_message(ann, "Good morning! Standup in ten minutes.", reactions=["👍 1"])
        # On IRC: every line from elsewhere once, attributed (carol's own never echoed).
        relayed = [r.line.param(1) for r in loop.run_until_complete(
            carol.privmsgs("#lobby", 4, within=chatpage.WAIT, sender=BOT))]  # fmt: skip
        assert relayed == [
            "[mail] <Dan Smith> Release notes for 2.4 are in the wiki.",
            "[mail] <Dan Smith> Please read before 3pm.",
            f"[web] <bob> (↪ carol: “{excerpt('On my way, two minutes. The build is green.', 40)}”)"
            " Thanks! Joining now.",
            "[web] * bob reacted 👍 to ann: “Good morning! Standup in ten minutes.”",
        ]

        chatpage.say(ann, "/me waves")
        chatpage.wait_for_message(bob, "* ann waves", user="ann")
        long = "Build log excerpt: " + "compiling module and linking objects " * 90
        chatpage.say(ann, long.strip())
        shown = chatpage.wait_for_message(bob, long.strip(), user="ann")
        assert shown["collapsed"], "a very long message is collapsed until opened"

        # Every line once, everyone's own marked; the page never scrolls sideways.
        texts = [m["text"] for m in chatpage.messages(ann)]
        assert len(texts) == len(set(texts)) == 6
        assert [m["own"] for m in chatpage.messages(bob)] == [
            False,
            False,
            False,
            True,
            False,
            False,
        ]
        for driver, which in ((ann, "desktop"), (bob, "phone")):
            assert chatpage.overflow(driver) == [], which
            layout = driver.execute_script(
                """return ['.rooms', '#log', '.members', '#composer'].map(s => {
                  const box = document.querySelector(s).getBoundingClientRect();
                  return box.width > 0 && box.height > 0; });"""
            )
            assert layout == [True, True, True, True], which
            driver.execute_script("document.getElementById('log').scrollTop = 1e9")
            photograph(driver, which, tmp_path)
    finally:
        loop.run_until_complete(carol.close())
        loop.close()


def test_history_once_and_reconnecting_after_a_restart(
    browser: Callable[..., Any], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    env = {"DJANGO_SETTINGS_MODULE": "multichat.settings",
           "MULTICHAT_DB": str(tmp_path / "db.sqlite3")}  # fmt: skip
    migrate(env)
    addrport = f"127.0.0.1:{free_port()}"

    def server() -> LiveServer:
        return LiveServer(["interfaces.email.port=0"], env=env, cwd=EXAMPLE, databases={},
                          timeout=60, addrport=addrport)  # fmt: skip

    first = server().start()
    ann = browser()
    try:
        chatpage.open_room(ann, first, "kitchen", "ann")
        for text in ("one", "two", "three"):
            chatpage.say(ann, text)
            chatpage.wait_for_message(ann, text)
        ann.refresh()  # a re-join: the history once, not twice
        chatpage.wait(
            ann, lambda d: "Connected" in d.find_element(By.ID, "status").text, "reconnected"
        )
        assert [m["text"] for m in chatpage.messages(ann)] == ["one", "two", "three"]

        first.stop()  # a graceful stop closes sockets with 1001

        def said(d: Any) -> bool:
            sentence = str(d.find_element(By.ID, "status").text)
            return "The server is restarting" in sentence and "Reconnecting in" in sentence

        chatpage.wait(ann, said, "no sentence for the restart")
        again = server().start()
        try:
            chatpage.wait(
                ann, lambda d: "Connected" in d.find_element(By.ID, "status").text, "no reconnect"
            )
            assert [m["text"] for m in chatpage.messages(ann)] == ["one", "two", "three"]
            chatpage.say(ann, "four")
            chatpage.wait_for_message(ann, "four", own=True)
        finally:
            again.stop()
    finally:
        first.stop()


def test_limits_labels_and_no_outside_assets(
    multichat: LiveServer, browser: Callable[..., Any]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page = browser()
    chatpage.open_room(page, multichat, "garden", "fay")
    box = page.find_element(By.ID, "composer-text")
    # The server's limits: its hello frame's max_text, the bridge's name length.
    assert box.get_attribute("maxlength") == "4000"
    assert page.find_element(By.ID, "name").get_attribute("maxlength") == "30"
    box.send_keys("x" * 4010)
    assert len(box.get_attribute("value")) == 4000
    assert page.find_element(By.ID, "composer-count").text == "4000 / 4000"
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    chatpage.say(page, "first line\nsecond line")  # Shift+Enter kept the line break
    chatpage.wait_for_message(page, "first line\nsecond line", own=True)
    box.send_keys(Keys.ARROW_UP)  # edits the last own message
    assert box.get_attribute("value") == "first line\nsecond line"
    box.send_keys(Keys.ESCAPE)

    unnamed = page.execute_script(
        """return Array.from(document.querySelectorAll('button, input, textarea, [role=log]'))
          .filter(el => !(el.getAttribute('aria-label') || el.textContent.trim()
                          || (el.id && document.querySelector(`label[for="${el.id}"]`))))
          .map(el => el.outerHTML.slice(0, 80));"""
    )
    assert unnamed == []
    assert page.find_element(By.ID, "log").get_attribute("role") == "log"
    outside = page.execute_script(
        """return performance.getEntriesByType('resource').map(r => r.name)
          .filter(u => !u.startsWith(location.origin) && !u.startsWith('ws'));"""
    )
    assert outside == []

    page.get(f"{multichat.http_url}/chat/{'x' * 51}/")
    assert "room names are 1 to 50" in page.find_element(By.CSS_SELECTOR, "[role=alert]").text


def test_only_room_mailboxes_take_mail(multichat: LiveServer) -> None:
    """``recipients`` from the room-name rule: any other address is refused at RCPT,
    so nothing is acknowledged that no room would see."""
    with smtplib.SMTP("127.0.0.1", smtp_port(multichat), timeout=chatpage.WAIT) as smtp:
        smtp.ehlo()
        smtp.mail("dan@example.com")
        assert smtp.rcpt("nobody@localhost")[0] == 550
        assert smtp.rcpt("room-bad!name@localhost")[0] in (550, 553)
        assert smtp.rcpt("room-lobby@localhost")[0] == 250
