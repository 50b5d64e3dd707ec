"""IRCv3 against a real InspIRCd: message tags and server-time reach consumers, our own
echo-message echoes do not; SASL PLAIN against real Anope services (903 and 904)."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

from telephonist.interfaces.irc import spec
from tests.irc.conftest import Started, network
from tests.irc.peer import Peer, joined
from tests.irc.servers import InspIRCd, make_cert, make_client_cert

StartIrc = Callable[..., Awaitable[Started]]
Peers = Callable[[str], Peer]


async def test_tags_time_and_echo_message(
    inspircd: InspIRCd, start_irc: StartIrc, peers: Peers, room: str, nick: str
) -> None:
    alice = await peers("tagger").connect(inspircd.port, caps=("message-tags",))
    await alice.join(room)
    interface, host = await start_irc(network(inspircd.port, nick, channels=[room]))
    connect = await host.next_event(spec.CONNECT)
    assert {"server-time", "message-tags", "echo-message", "multi-prefix"} <= set(connect["caps"])
    await alice.expect(joined(nick, room))
    alice.send(f"@+example.org/mood=happy PRIVMSG {room} :tagged hello")
    event = await host.next_event(spec.RECEIVE)
    assert event["text"] == "tagged hello"
    assert event["tags"]["+example.org/mood"] == "happy"
    assert event["tags"]["msgid"]
    assert event["time"] == event["tags"]["time"]
    assert event["time"].endswith("Z")
    # The bot's reply is echoed back to it (echo-message) and must not become an event.
    await host.layer.send(event["reply_channel"], {"text": "echo me not"})
    (reply,) = await alice.privmsgs(room, 1, sender=nick)
    assert reply.line.param(1) == "echo me not"
    alice.send(f"PRIVMSG {room} :after the echo")
    following = await host.next_event(spec.RECEIVE)
    assert following["text"] == "after the echo"
    assert host.counters["ignored_own_message"] >= 1
    # The echo also told the bot its exact relayed prefix.
    session = interface.clients["test"].session
    assert (session.ident, session.host) == (nick[:10], "127.0.0.1")


async def register_account(port: int, peers: Peers, account: str, password: str) -> Peer:
    """Register ``account`` with NickServ the way a user does; returns that user,
    still connected and identified."""
    owner = await peers(account).connect(port)
    owner.send(f"PRIVMSG NickServ :REGISTER {password} {account}@example.invalid")
    await owner.expect(lambda ln: ln.command == "NOTICE" and "registered" in ln.param(1))
    return owner


async def test_sasl_plain_success(
    inspircd_anope: InspIRCd, start_irc: StartIrc, peers: Peers, nick: str
) -> None:
    await register_account(inspircd_anope.port, peers, "acct1", "right-pass")
    config = network(
        inspircd_anope.port, nick, sasl_mechanism="plain", sasl_username="acct1",
        sasl_password="right-pass", allow_plaintext_auth=True,  # loopback
    )  # fmt: skip
    interface, host = await start_irc(config)
    connect = await host.next_event(spec.CONNECT)
    assert connect["account"] == "acct1"
    assert "sasl" in connect["caps"]
    assert interface.clients["test"].negotiation.sasl_outcome == "success"


async def test_sasl_plain_failure_gives_up_the_attempt(
    inspircd_anope: InspIRCd, start_irc: StartIrc, peers: Peers, nick: str
) -> None:
    await register_account(inspircd_anope.port, peers, "acct2", "right-pass")
    config = network(
        inspircd_anope.port, nick, sasl_mechanism="plain", sasl_username="acct2",
        sasl_password="wrong-pass", reconnect_initial=5.0, reconnect_max=5.0,
        allow_plaintext_auth=True,  # loopback
    )  # fmt: skip
    interface, host = await start_irc(config)
    failed = await host.next_event(spec.DISCONNECT)
    assert failed["registered"] is False
    assert "904" in failed["reason"]
    status = interface.status()["networks"]["test"]
    assert status["state"] == "waiting"
    assert status["connects"] == 0


async def test_sasl_external_with_a_client_certificate(
    inspircd_anope: InspIRCd, start_irc: StartIrc, peers: Peers, nick: str
) -> None:
    cert, key, fingerprint = make_client_cert()
    server_cert, _ = make_cert()
    # The account's owner connects with the certificate, registers, and adds the
    # certificate's fingerprint to the account (NickServ CERT ADD), as a user would.
    tls = ssl.create_default_context(cafile=str(server_cert))
    tls.load_cert_chain(cert, key)
    owner = await peers("acct3").connect(inspircd_anope.tls_port, tls=tls)
    owner.send("PRIVMSG NickServ :REGISTER some-pass acct3@example.invalid")
    await owner.expect(lambda ln: ln.command == "NOTICE" and "registered" in ln.param(1))
    owner.send("PRIVMSG NickServ :CERT ADD")
    await owner.expect(lambda ln: ln.command == "NOTICE" and fingerprint in ln.param(1))
    config = network(
        inspircd_anope.tls_port, nick, tls=True, tls_ca_file=str(server_cert),
        tls_server_name="localhost", tls_client_cert=str(cert), tls_client_key=str(key),
        sasl_mechanism="external",
    )  # fmt: skip
    interface, host = await start_irc(config)
    connect = await host.next_event(spec.CONNECT)
    assert connect["account"] == "acct3"
    assert interface.clients["test"].negotiation.sasl_outcome == "success"
