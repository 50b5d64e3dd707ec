"""No secret in any output (docs/security.md, "Secrets").

The end-to-end test configures every secret setting of every interface (and the Redis
URL) with a marker, runs the real commands against real peers at DEBUG, and searches
every output for the markers and for the encodings that carry them on the wire (the
SASL PLAIN and SMTP AUTH PLAIN blobs). The other tests pin the pieces: the IRC line
masking, the redaction of configuration values, and the config errors of the CLI.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from hypothesis import given
from hypothesis import strategies as st

from telephonist.config import ConfigError
from telephonist.config.errors import describe_validation_error
from telephonist.interfaces.email.config import EmailConfig
from telephonist.interfaces.irc.config import NetworkConfig
from telephonist.interfaces.irc.lines import format_line
from telephonist.interfaces.irc.logmask import masked
from telephonist.redaction import MASK, redact, strip_credentials
from telephonist.testing.processes import Process, free_port, wait_until
from telephonist.testing.slack import SlackStandIn
from tests.email.clients import swaks
from tests.email.conftest import Certs
from tests.irc.peer import Peer
from tests.irc.servers import InspIRCd, Ngircd, make_cert
from tests.servers import RedisServer

TELEPHONIST = [sys.executable, "-m", "telephonist.cli"]
TIMEOUT = 60.0

SECRETS = {
    "irc_password": "TPHSECRET-pass-4c1e",
    "sasl_password": "TPHSECRET-sasl-9b2d",
    "channel_key": "TPHSECRET-key-77aa",
    "relay_password": "TPHSECRET-relay-1f0c",
    "smtp_password": "TPHSECRET-smtp-5e6d",
    "redis_password": "TPHSECRET-redis-0a9b",
    "slack_signing_secret": "TPHSECRET-signing-3d4e",
}


# -- the pieces -------------------------------------------------------------------------


def test_irc_lines_with_credentials_are_masked() -> None:
    cases = {
        "PASS :hunter2": "PASS ****",
        "OPER admin hunter2": "OPER ****",
        "AUTHENTICATE PLAIN": "AUTHENTICATE PLAIN",
        "AUTHENTICATE +": "AUTHENTICATE +",
        "AUTHENTICATE aHVudGVyMg==": "AUTHENTICATE ****",
        "JOIN #a,#b key1,key2": "JOIN #a,#b ****",
        "JOIN #open": "JOIN #open",
        ":op!u@h MODE #c +kl hunter2 10": ":op!u@h MODE #c +kl **** ****",
        ":srv 324 me #c +k hunter2": ":srv 324 me #c +k ****",
        ":op!u@h MODE #c +o bob": ":op!u@h MODE #c +o bob",
        "PRIVMSG NickServ :IDENTIFY acct hunter2": "PRIVMSG NickServ :IDENTIFY ****",
        "NS IDENTIFY hunter2": "NS ****",
        "@time=x :a!b@c PRIVMSG #c :hello": "@time=x :a!b@c PRIVMSG #c :hello",
    }
    for line, expected in cases.items():
        assert masked(line) == expected


_WORD = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1).filter(
    lambda w: "," not in w and not w.startswith(":") and w.strip("*") != ""  # not the mask
)


@given(secret=_WORD)
def test_no_credential_line_shows_its_secret(secret: str) -> None:
    lines = [
        format_line("PASS", secret),
        format_line("JOIN", "#chan", secret, trailing=False),
        format_line("AUTHENTICATE", base64.b64encode(secret.encode()).decode()),
    ]
    for line in lines:
        shown = masked(line)
        assert secret not in shown.split(" ", 1)[1].replace("#chan", "")


_SECRET_NAMES = st.sampled_from(["password", "sasl_password", "key", "token", "bot_token",
                                 "signing_secret", "client_secret", "api_key"])  # fmt: skip


@given(name=_SECRET_NAMES, secret=st.text(min_size=1), other=st.text())
def test_redacted_configuration_never_holds_a_secret_value(
    name: str, secret: str, other: str
) -> None:
    value = {"outer": [{name: secret, "host": other}], "auth_users": {"ann": secret}}
    shown = redact(value)
    assert shown["outer"][0][name] == MASK
    assert shown["auth_users"] == {"ann": MASK}
    assert shown["outer"][0]["host"] == strip_credentials(other)


@given(user=st.from_regex(r"[a-z0-9]{0,8}", fullmatch=True),
       password=st.from_regex(r"[^\s'\"<>@]{1,20}", fullmatch=True))  # fmt: skip
def test_urls_lose_their_credentials(user: str, password: str) -> None:
    text = f"cannot reach redis://{user}:{password}@10.0.0.5:6379/0 (refused)"
    assert strip_credentials(text) == "cannot reach redis://***@10.0.0.5:6379/0 (refused)"


def test_config_errors_show_the_input_without_its_secrets() -> None:
    problems: list[str] = []
    for model, data in (
        (EmailConfig, {"relay": {"password": "TPHSECRET-a", "tls": "starttls"}}),
        (EmailConfig, {"auth_users": {"alice": "TPHSECRET-b"}}),
        (NetworkConfig, {"name": "n", "host": "h", "nick": "b", "tls": False,
                         "password": "TPHSECRET-c"}),
        (NetworkConfig, {"name": "n", "host": "h", "nick": "b", "channels": ["#c bad,key"]}),
    ):  # fmt: skip
        try:
            model.model_validate(data)
        except Exception as exc:
            problems += describe_validation_error(exc)  # type: ignore[arg-type]
    text = "\n".join(problems)
    assert "relay username and password go together" in text
    assert "auth_users needs TLS" in text
    assert "would send it in clear" in text
    assert "a channel key must be a single IRC word" in text
    assert "TPHSECRET" not in text
    assert "bad,key" not in text
    assert "'alice'" in text  # what is not secret is still shown
    assert "redis://***@h" in str(ConfigError(["layer: redis://u:TPHSECRET-d@h failed"]))


# -- the whole system -------------------------------------------------------------------


@dataclass
class LockedNgircd(Ngircd):
    """ngircd with a server password (``PASS``)."""

    password: str = ""

    def configure(self) -> None:
        super().configure()
        conf = self.directory / "ngircd.conf"
        text = conf.read_text().replace("[Global]\n", f"[Global]\nPassword = {self.password}\n", 1)
        conf.write_text(text)


CHATAPP = """
from telephonist.routing import route


async def answer(message):
    await message.reply_channel.send({"text": "noted"})


routes = [route("irc-client.receive", answer), route("email.receive", answer)]
"""


def _toml(
    redis_url: str, prefix: str, locked: Ngircd, anope: InspIRCd, certs: Certs, relay: int,
    slack: SlackStandIn,
) -> str:  # fmt: skip
    cert = make_cert()[0]
    return f"""
routing = "chatapp.routes"

[layer]
BACKEND = "redis"
[layer.CONFIG]
hosts = ["{redis_url}"]
prefix = "{prefix}"

[interfaces.irc]
events = ["receive"]

[[interfaces.irc.networks]]
name = "locked"
host = "127.0.0.1"
port = {locked.tls_port}
tls_ca_file = "{cert}"
tls_server_name = "localhost"
password = "{SECRETS["irc_password"]}"
nick = "secbot1"
channels = ["#secret {SECRETS["channel_key"]}"]
reconnect_initial = 0.2

[[interfaces.irc.networks]]
name = "services"
host = "127.0.0.1"
port = {anope.tls_port}
tls_ca_file = "{cert}"
tls_server_name = "localhost"
nick = "secbot2"
sasl_mechanism = "plain"
sasl_username = "secacct"
sasl_password = "{SECRETS["sasl_password"]}"
reconnect_initial = 0.2

[interfaces.email]
port = 0
domains = ["example.org"]
tls_cert = "{certs.cert}"
tls_key = "{certs.key}"
auth_users = {{alice = "{SECRETS["smtp_password"]}"}}

[interfaces.email.relay]
host = "127.0.0.1"
port = {relay}
username = "relayuser"
password = "{SECRETS["relay_password"]}"
ca_file = "{certs.ca}"

[interfaces.slack]
api_url = "{slack.api_url}"
bot_token = "{slack.team.bot_token}"
app_token = "{slack.app_token}"
signing_secret = "{SECRETS["slack_signing_secret"]}"
"""


def _forbidden(slack: SlackStandIn) -> list[str]:
    """Every form a secret could take in an output."""
    sasl = f"secacct\0secacct\0{SECRETS['sasl_password']}".encode()
    auth = f"\0alice\0{SECRETS['smtp_password']}".encode()
    return [
        *SECRETS.values(),
        slack.team.bot_token,
        slack.app_token,
        base64.b64encode(sasl).decode(),
        base64.b64encode(auth).decode(),
        base64.b64encode(SECRETS["smtp_password"].encode()).decode(),
    ]


def _cli(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*TELEPHONIST, *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    return f"$ telephonist {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}"


async def _register(port: int, peers: Any, account: str, password: str) -> Peer:
    owner: Peer = await peers(account).connect(port)
    owner.send(f"PRIVMSG NickServ :REGISTER {password} {account}@example.invalid")
    await owner.expect(lambda ln: ln.command == "NOTICE" and "registered" in ln.param(1))
    return owner


async def test_marker_secrets_appear_in_no_output(
    tmp_path: Path,
    redis_server: RedisServer,
    inspircd_anope: InspIRCd,
    certs: Certs,
    peers: Any,
    slack: SlackStandIn,
) -> None:
    # Real peers, each holding one of the secrets.
    locked = LockedNgircd(tmp_path / "ngircd", password=SECRETS["irc_password"])
    locked.start()
    try:
        await _register(inspircd_anope.port, peers, "secacct", SECRETS["sasl_password"])
        client = redis.Redis(port=redis_server.port)
        client.acl_setuser(
            "tphsec", enabled=True, passwords=[f"+{SECRETS['redis_password']}"],
            keys=["*"], channels=["*"], commands=["+@all"],
        )  # fmt: skip
        client.close()
        redis_url = f"redis://tphsec:{SECRETS['redis_password']}@127.0.0.1:{redis_server.port}"
        project = tmp_path / "project"
        project.mkdir()
        (project / "chatapp.py").write_text(CHATAPP)
        toml = _toml(redis_url, f"sec{uuid.uuid4().hex[:8]}", locked, inspircd_anope, certs,
                     free_port(), slack)  # fmt: skip
        (project / "telephonist.toml").write_text(toml)
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "TELEPHONIST_STATUS__SOCKET_DIR": str(tmp_path / "status")}  # fmt: skip
        outputs = await _run_everything(project, env, tmp_path, certs, slack)
    finally:
        locked.stop()
    text = "\n".join(outputs)
    # The outputs are the ones wanted: DEBUG lines of each credential exchange, status.
    for expected in ("-> PASS ****", "-> JOIN #secret ****", "-> AUTHENTICATE ****",
                     "registered on locked", "registered on services", "235 ",
                     "interface email:", "RedisChannelLayer: capacity", "auth_users"):  # fmt: skip
        assert expected in text, expected
    leaks = [secret for secret in _forbidden(slack) if secret in text]
    assert leaks == [], [line for line in text.splitlines() if any(s in line for s in leaks)]


async def _run_everything(
    project: Path, env: dict[str, str], tmp: Path, certs: Certs, slack: SlackStandIn
) -> list[str]:
    outputs: list[str] = []
    proc = Process([*TELEPHONIST, "run", "--log-level", "DEBUG"], log=tmp / "run.log",
                   cwd=project, env=env)  # fmt: skip
    try:
        wanted = ("telephonist: ready", "registered on locked", "registered on services",
                  "-> JOIN #secret")  # fmt: skip
        await asyncio.to_thread(
            wait_until, lambda: all(w in proc.output() for w in wanted),
            timeout=TIMEOUT, what="IRC registered and joined", watch=[proc],
        )  # fmt: skip
        await slack.wait_connected(within=TIMEOUT)  # Socket Mode, with the app token
        port = int(re.search(r"smtp://127\.0\.0\.1:(\d+)", proc.output()).group(1))  # type: ignore[union-attr]
        sent = await swaks(
            "--port", str(port), "--tls", "--tls-ca-path", certs.ca, "--auth", "PLAIN",
            "--auth-user", "alice", "--auth-password", SECRETS["smtp_password"],
            "--from", "alice@example.com", "--to", "desk@example.org", "--body", "hi",
        )  # fmt: skip
        assert sent.code == 0, sent.transcript
        # What our server answered (the client's own lines hold the blob it sent).
        outputs += [ln for ln in sent.transcript.splitlines() if ln.lstrip().startswith("<")]
        # The reply goes to the relay, which is not there: its failure is logged.
        await asyncio.to_thread(
            wait_until, lambda: "refused" in proc.output().split("235 ", 1)[-1],
            timeout=TIMEOUT, what="the relay attempt", watch=[proc],
        )  # fmt: skip
        for args in (["status"], ["status", "--json"], ["interfaces"], ["interfaces", "--json"]):
            outputs.append(await asyncio.to_thread(_cli, project, env, *args))
    finally:
        proc.stop()
        outputs.append(proc.output())
    outputs += await asyncio.to_thread(_config_errors, project, env)
    return outputs


def _config_errors(project: Path, env: dict[str, str]) -> list[str]:
    """Each wrong setting the CLI reports, with a secret in the input it echoes."""
    bad = {
        "relay.toml": f"""[interfaces.email.relay]\npassword = "{SECRETS["relay_password"]}"\n""",
        "auth.toml": f"""[interfaces.email]
auth_users = {{alice = "{SECRETS["smtp_password"]}"}}\n""",
        "plain.toml": f"""[interfaces.irc]\n[[interfaces.irc.networks]]\nname = "n"
host = "127.0.0.1"\nnick = "b"\ntls = false\npassword = "{SECRETS["irc_password"]}"\n""",
        "key.toml": f"""[interfaces.irc]\n[[interfaces.irc.networks]]\nname = "n"
host = "127.0.0.1"\nnick = "b"\nchannels = ["#c {SECRETS["channel_key"]},x"]\n""",
        "scheme.toml": f"""[layer]\nBACKEND = "redis"\n[layer.CONFIG]
hosts = ["http://u:{SECRETS["redis_password"]}@127.0.0.1:1"]\n[interfaces.linechat]\n""",
        "twice.toml": f"""[layer]\nBACKEND = "redis"\n[layer.CONFIG]
hosts = ["redis://u:{SECRETS["redis_password"]}@127.0.0.1:1", "redis://127.0.0.1:1"]
[interfaces.linechat]\n""",
    }  # fmt: skip
    outputs = []
    for name, text in bad.items():
        (project / name).write_text('routing = "chatapp.routes"\n' + text)
        out = _cli(project, env, "run", "--config", name)
        assert "-> 0" not in out.splitlines()[0], out
        outputs.append(out)
    # An unreachable Redis with credentials in its URL: status says the layer is down.
    url = f"redis://u:{SECRETS['redis_password']}@127.0.0.1:{free_port()}"
    down = {**env, "TELEPHONIST_LAYER__CONFIG": f'{{"hosts": ["{url}"], "retry_budget": 0.5}}'}
    outputs.append(_cli(project, down, "status", "-s", "status.timeout=0.5"))
    return outputs
