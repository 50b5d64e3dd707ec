"""docs/deploy.md and its tests stay together: every block the page marks is one the
tests use (a block added to the page without a test fails here), every marker is
well-formed, and the tests the page names exist."""

from __future__ import annotations

import re

from .page import PAGE, files, transcript

# Which test uses each block of the page.
USED = {
    "/srv/whoami/whoami.py": "all",
    "/srv/whoami/telephonist.toml": "all",
    "/etc/telephonist/env": "test_systemd",
    "/etc/redis/telephonist.conf": "all but test_cluster",
    "/etc/systemd/system/telephonist-serve.service": "test_systemd",
    "/etc/systemd/system/telephonist-worker@.service": "test_systemd",
    "/etc/systemd/system/multichat-interfaces.service": "test_systemd",
    "/etc/systemd/system/multichat-worker@.service": "test_systemd",
    "/etc/multichat/env": "test_systemd",
    "/etc/nginx/sites-available/whoami": "test_nginx, test_split, test_sentinel",
    "/etc/redis/telephonist-replica.conf": "test_sentinel",
    "/etc/redis/sentinel.conf": "test_sentinel",
    "sentinel.toml": "test_sentinel",
    "/etc/redis/users.acl": "test_cluster",
    "cluster.toml": "test_cluster",
}
COMMANDS = {"split": "test_split", "sentinel": "test_sentinel", "outside": "test_split"}


def test_every_block_of_the_page_is_used_by_a_test() -> None:
    text = PAGE.read_text()
    assert set(files()) == set(USED)
    assert text.count("<!-- file: ") == len(files())
    assert set(re.findall(r"<!-- commands: (\S+) -->", text)) == set(COMMANDS)
    for block in COMMANDS:
        assert transcript(block)


def test_the_tests_the_page_names_exist() -> None:
    named = set(re.findall(r"`(test_\w+\.py)`", PAGE.read_text()))
    present = {p.name for p in PAGE.parent.parent.glob("tests/deploy/test_*.py")}
    assert named
    assert named <= present, named - present
