"""CAP/SASL negotiation as a pure state machine: lines in, lines out."""

from __future__ import annotations

import base64

from telephonist.interfaces.irc.caps import Negotiation, SaslCredentials
from telephonist.interfaces.irc.lines import parse_line

WANTED = ("server-time", "message-tags", "echo-message", "multi-prefix")


def feed(neg: Negotiation, raw: str) -> list[str]:
    return neg.feed(parse_line(raw))


def test_requests_what_is_offered_and_ends() -> None:
    neg = Negotiation(WANTED)
    assert neg.start() == ["CAP LS 302"]
    assert feed(neg, ":srv CAP * LS * :multi-prefix away-notify") == []
    assert feed(neg, ":srv CAP * LS :server-time sasl=PLAIN") == [
        "CAP REQ :server-time multi-prefix"
    ]
    assert feed(neg, ":srv CAP * ACK :server-time multi-prefix") == ["CAP END"]
    assert neg.done
    assert neg.enabled == {"server-time", "multi-prefix"}


def test_nothing_wanted_is_offered() -> None:
    neg = Negotiation(WANTED)
    assert feed(neg, ":srv CAP * LS :away-notify") == ["CAP END"]
    assert neg.done
    assert not neg.enabled


def test_server_without_cap() -> None:
    neg = Negotiation(WANTED)
    assert feed(neg, ":srv 421 * CAP :Unknown command") == []
    assert neg.done
    neg = Negotiation(WANTED)
    assert feed(neg, ":srv 001 me :Welcome") == []
    assert neg.done


def test_nak_ends_without_caps() -> None:
    neg = Negotiation(WANTED)
    feed(neg, ":srv CAP * LS :server-time")
    assert feed(neg, ":srv CAP * NAK :server-time") == ["CAP END"]
    assert neg.enabled == set()


def test_sasl_plain_success() -> None:
    neg = Negotiation(WANTED, SaslCredentials("PLAIN", "bot", "secret"))
    assert feed(neg, ":srv CAP * LS :sasl=PLAIN,EXTERNAL server-time") == [
        "CAP REQ :server-time sasl"
    ]
    assert feed(neg, ":srv CAP bot ACK :server-time sasl") == ["AUTHENTICATE :PLAIN"]
    (line,) = feed(neg, "AUTHENTICATE +")
    assert base64.b64decode(line.split()[1]) == b"bot\0bot\0secret"
    assert feed(neg, ":srv 900 bot bot!u@h bot :You are now logged in as bot") == []
    assert feed(neg, ":srv 903 bot :SASL authentication successful") == ["CAP END"]
    assert neg.sasl_outcome == "success"
    assert neg.account == "bot"
    assert neg.failure is None


def test_sasl_external_sends_plus() -> None:
    neg = Negotiation((), SaslCredentials("EXTERNAL"))
    assert feed(neg, ":srv CAP * LS :sasl") == ["CAP REQ :sasl"]
    assert feed(neg, ":srv CAP * ACK :sasl") == ["AUTHENTICATE :EXTERNAL"]
    assert feed(neg, "AUTHENTICATE +") == ["AUTHENTICATE +"]


def test_long_sasl_payload_is_chunked() -> None:
    neg = Negotiation((), SaslCredentials("PLAIN", "u", "p" * 600))
    feed(neg, ":srv CAP * LS :sasl")
    feed(neg, ":srv CAP * ACK :sasl")
    lines = feed(neg, "AUTHENTICATE +")
    chunks = [line.split()[1] for line in lines]
    assert all(len(c) <= 400 for c in chunks)
    assert len(chunks) == 3
    assert base64.b64decode("".join(chunks)) == b"u\0u\0" + b"p" * 600


def test_sasl_failure_required_and_optional() -> None:
    required = Negotiation((), SaslCredentials("PLAIN", "u", "bad"))
    feed(required, ":srv CAP * LS :sasl")
    feed(required, ":srv CAP * ACK :sasl")
    feed(required, "AUTHENTICATE +")
    assert feed(required, ":srv 904 u :SASL authentication failed") == []
    assert required.done
    assert required.failure is not None
    assert "904" in required.failure
    optional = Negotiation((), SaslCredentials("PLAIN", "u", "bad", required=False))
    feed(optional, ":srv CAP * LS :sasl")
    feed(optional, ":srv CAP * ACK :sasl")
    assert feed(optional, ":srv 904 u :SASL authentication failed") == ["CAP END"]
    assert optional.failure is None
    assert optional.sasl_outcome == "failed"


def test_sasl_not_offered() -> None:
    neg = Negotiation((), SaslCredentials("PLAIN", "u", "p"))
    assert feed(neg, ":srv CAP * LS :server-time") == []
    assert neg.failure == "the server offers no SASL"
    neg = Negotiation((), SaslCredentials("EXTERNAL"))
    assert feed(neg, ":srv CAP * LS :sasl=PLAIN") == []
    assert neg.failure is not None
    assert "EXTERNAL" in neg.failure


def test_cap_notify_after_registration() -> None:
    neg = Negotiation(WANTED)
    feed(neg, ":srv CAP * LS :multi-prefix")
    feed(neg, ":srv CAP * ACK :multi-prefix")
    assert feed(neg, ":srv CAP me NEW :server-time") == ["CAP REQ :server-time"]
    feed(neg, ":srv CAP me ACK :server-time")
    assert "server-time" in neg.enabled
    feed(neg, ":srv CAP me DEL :server-time")
    assert "server-time" not in neg.enabled
