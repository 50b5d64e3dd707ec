"""The multichat example as a user meets it: its own runserver, real sockets, a browser.

The example runs in its own process (``manage.py runserver`` through ``LiveServer``, on
free ports, with a fresh SQLite file); two headless Chromium sessions open the room
page, pick names and talk; a mail sent over SMTP shows up in the same room. Every wait
is a bounded wait on something observable (a line on the server's stdout, an element
in the page).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from telephonist.django.testing import LiveServer
from tests.servers import require_service

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multichat"
WAIT = 20.0
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def multichat() -> Iterator[LiveServer]:
    with tempfile.TemporaryDirectory(prefix="multichat-") as tmp:
        env = {
            "DJANGO_SETTINGS_MODULE": "multichat.settings",
            "MULTICHAT_DB": str(Path(tmp) / "db.sqlite3"),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=EXAMPLE,
            env={**os.environ, **env},
            check=True,
            timeout=120,
        )
        server = LiveServer(
            ["interfaces.email.port=0"], env=env, cwd=EXAMPLE, databases={}, timeout=60
        )
        with server:
            assert set(server.urls) >= {"http", "email"}, server.log
            yield server


def _smtp_port(server: LiveServer) -> int:
    return int(server.urls["email"][0].rsplit(":", 1)[1])


@pytest.fixture
def browser() -> Iterator[Callable[[], Any]]:
    """``browser()`` opens a new headless Chromium session (each a separate user)."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        require_service("chromium and chromedriver (scripts/peers/browser.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []
    profiles: list[tempfile.TemporaryDirectory[str]] = []

    def start() -> Any:
        profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile.name}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(WAIT)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()  # ends chromedriver and its Chromium, which we started
    for profile in profiles:
        profile.cleanup()


def join(driver: Any, server: LiveServer, room: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{server.http_url}/chat/{room}/")
    field = driver.find_element(By.ID, "name")
    field.clear()
    field.send_keys(name)
    driver.find_element(By.ID, "join").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.ID, "status"), f"connected as {name}")
    )


def say(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "text").send_keys(text)
    driver.find_element(By.ID, "send").click()


def wait_for_line(driver: Any, line: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(d: Any) -> bool:
        items = d.execute_script(
            "return Array.from(document.querySelectorAll('#log li'), li => li.textContent)"
        )
        return line in items

    WebDriverWait(driver, WAIT).until(shown, message=f"{line!r} never appeared")


def lines(driver: Any) -> list[str]:
    found: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#log li'), li => li.textContent)"
    )
    return found


def test_two_browsers_talk_in_a_room_and_a_mail_joins_in(
    multichat: LiveServer, browser: Callable[[], Any]
) -> None:
    ann, bob = browser(), browser()
    join(ann, multichat, "lobby", "ann")
    join(bob, multichat, "lobby", "bob")
    wait_for_line(ann, "* bob joined #lobby")

    say(ann, "hello from ann")
    wait_for_line(bob, "<ann> hello from ann")
    say(bob, "hi ann")
    wait_for_line(ann, "<bob> hi ann")

    mail = EmailMessage()
    mail["From"] = "carol@example.com"
    mail["To"] = "room-lobby@localhost"
    mail["Subject"] = "hello"
    mail.set_content("posted by mail")
    with smtplib.SMTP("127.0.0.1", _smtp_port(multichat), timeout=WAIT) as smtp:
        smtp.send_message(mail)
    wait_for_line(ann, "<carol@example.com> posted by mail")
    wait_for_line(bob, "<carol@example.com> posted by mail")

    # A newcomer sees the recent history first, from the database.
    dave = browser()
    join(dave, multichat, "lobby", "dave")
    wait_for_line(dave, "<carol@example.com> posted by mail")
    history = lines(dave)
    expected = ["<ann> hello from ann", "<bob> hi ann", "<carol@example.com> posted by mail"]
    assert history[: len(expected)] == expected
    wait_for_line(ann, "* dave joined #lobby")


def test_rooms_are_separate(multichat: LiveServer, browser: Callable[[], Any]) -> None:
    eve, fay = browser(), browser()
    join(eve, multichat, "kitchen", "eve")
    join(fay, multichat, "garden", "fay")
    say(eve, "only the kitchen hears this")
    wait_for_line(eve, "<eve> only the kitchen hears this")
    say(fay, "garden news")
    wait_for_line(fay, "<fay> garden news")
    assert "<eve> only the kitchen hears this" not in lines(fay)
