"""Registration and settings, without sockets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from telephonist.interfaces.irc import IrcConfig, NetworkConfig
from telephonist.interfaces.irc.lines import parse_line
from telephonist.interfaces.irc.registration import Registration, nick_candidates


def config(**overrides: object) -> NetworkConfig:
    return NetworkConfig.model_validate({"name": "n", "host": "h", "nick": "bot", **overrides})


def test_registration_lines_start_with_cap() -> None:
    reg = Registration(config(password="pw", user="ident", realname="Real Name"))
    assert reg.start() == ["CAP LS 302", "PASS :pw", "NICK :bot", "USER ident 0 * :Real Name"]


def test_nick_fallbacks_then_failure() -> None:
    reg = Registration(config(alt_nicks=["alt"]))
    reg.feed(parse_line(":s CAP * LS :"))
    tried = []
    for _ in range(20):
        out = reg.feed(parse_line(":s 433 * taken :Nickname is already in use"))
        if reg.failure:
            break
        tried.append(parse_line(out[-1]).params[0])
    assert tried[:3] == ["alt", "bot_", "bot__"]
    assert len(tried) == 8
    assert reg.failure == "no free nick among the candidates"


def test_registered_on_001_and_fatal_numerics() -> None:
    reg = Registration(config())
    reg.feed(parse_line(":s 001 bot_ :Welcome"))
    assert reg.registered
    assert reg.nick == "bot_"
    banned = Registration(config())
    banned.feed(parse_line(":s 465 * :You are banned"))
    assert banned.failure == "banned from the server"


def test_sasl_failure_is_a_registration_failure() -> None:
    reg = Registration(config(sasl_mechanism="plain", sasl_password="x"))
    reg.feed(parse_line(":s CAP * LS :sasl"))
    reg.feed(parse_line(":s CAP * ACK :sasl"))
    reg.feed(parse_line("AUTHENTICATE +"))
    assert reg.feed(parse_line(":s 904 * :SASL authentication failed")) == []
    assert reg.failure is not None
    assert "904" in reg.failure


def test_candidates_are_bounded() -> None:
    assert len(list(nick_candidates(config(alt_nicks=["a", "b"])))) == 9


def test_settings() -> None:
    net = config(channels=["#a", "#b key", {"name": "#c", "key": "k"}])
    keys = [(c.name, c.key and c.key.get_secret_value()) for c in net.channels]
    assert keys == [("#a", None), ("#b", "key"), ("#c", "k")]
    assert "hunter2" not in repr(config(channels=["#b hunter2"]))  # a key is a secret
    assert net.port == 6697
    assert net.tls
    assert net.tls_verify
    assert net.username == "bot"
    with pytest.raises(ValidationError, match="sasl_password"):
        config(sasl_mechanism="plain")
    with pytest.raises(ValidationError, match="tls_client_cert"):
        config(sasl_mechanism="external")
    with pytest.raises(ValidationError):
        config(nick="two words")
    with pytest.raises(ValidationError):
        config(channels=["#a,#b"])
    with pytest.raises(ValidationError):
        config(nickname="typo")  # unknown keys are errors
    with pytest.raises(ValidationError, match="CR, LF"):
        config(quit_message="bye\r\nPRIVMSG #x :spam")
    with pytest.raises(ValidationError, match="unique"):
        IrcConfig(networks=[config(), config()])
    with pytest.raises(ValidationError, match="unknown event kinds"):
        IrcConfig(events=("receive", "message"))
