"""The multichat page as a person sees it: headless Chromium sessions (the ``browser``
fixture, made available to ``tests/django`` by its conftest) and the page read and used
the way a person would. Shared by ``test_multichat*.py``.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from telephonist.django.testing import LiveServer
from tests.servers import require_service

SIZES = {"desktop": (1280, 800), "phone": (390, 780)}
WAIT = 20.0
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

# What the page shows, read the way the tests need it.
MESSAGES_JS = """
return Array.from(document.querySelectorAll('#log li.msg'), li => ({
  user: li.querySelector('.author').textContent,
  protocol: li.querySelector('.meta .badge').className.replace('badge badge-', ''),
  text: li.querySelector('.text').textContent,
  own: li.classList.contains('own'),
  collapsed: li.classList.contains('collapsed'),
  reply: (li.querySelector('.quote') || {}).textContent || '',
  reactions: Array.from(li.querySelectorAll('.reaction'), b => b.textContent),
}));
"""
MEMBERS_JS = """
return Array.from(document.querySelectorAll('#members li'), li => [
  li.querySelector('.member-name').textContent,
  li.querySelector('.badge').className.replace('badge badge-', '')]);
"""


@pytest.fixture
def browser() -> Iterator[Callable[..., Any]]:
    """``browser(width, height)`` opens a new headless Chromium session (each a person)."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        require_service("chromium and chromedriver (scripts/peers/browser.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []
    profiles: list[tempfile.TemporaryDirectory[str]] = []

    def start(width: int = 1280, height: int = 800) -> Any:
        profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
            "--lang=en-GB", f"--user-data-dir={profile.name}",
        ):  # fmt: skip
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(WAIT)
        driver.set_window_size(width, height)
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])  # the viewport
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()  # ends chromedriver and its Chromium, which we started
    for profile in profiles:
        profile.cleanup()


def wait(driver: Any, check: Callable[[Any], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(check, message=what)


def open_room(driver: Any, server: LiveServer, room: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(f"{server.http_url}/chat/{room}/")
    field = wait(driver, lambda d: d.find_element(By.ID, "name"), "no name field")
    wait(driver, lambda d: field.is_displayed(), "the page did not ask for a name")
    field.send_keys(name, Keys.ENTER)  # the keyboard alone joins
    wait(driver, lambda d: d.find_element(By.ID, "composer-text").is_displayed(), "not joined")
    wait(driver, lambda d: "Connected" in d.find_element(By.ID, "status").text, "not connected")


def say(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "composer-text")
    lines = text.split("\n")
    for index, line in enumerate(lines):
        box.send_keys(line)
        if index < len(lines) - 1:
            box.send_keys(Keys.SHIFT, Keys.ENTER)  # a new line, not a send
    box.send_keys(Keys.ENTER)


def messages(driver: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = driver.execute_script(MESSAGES_JS)
    return found


def wait_for_message(driver: Any, text: str, **expected: Any) -> dict[str, Any]:
    def shown(d: Any) -> dict[str, Any] | None:
        for message in messages(d):
            if message["text"] == text and all(message[k] == v for k, v in expected.items()):
                return message
        return None

    found: dict[str, Any] = wait(driver, shown, f"{text!r} ({expected}) never appeared")
    return found


def overflow(driver: Any) -> list[str]:
    """Elements wider than the page (nothing may make the page scroll sideways)."""
    found: list[str] = driver.execute_script(
        """const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width) out.push('page');
        for (const el of document.querySelectorAll('#log, #log li, .layout > *, .top')) {
          const box = el.getBoundingClientRect();
          const wide = box.right > width + 1 || el.scrollWidth > el.clientWidth + 1;
          if (wide) out.push(el.id || el.className);
        }
        return out;"""
    )
    return found


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height
