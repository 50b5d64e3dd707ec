"""The Redis layer's pure parts, no server: host parsing, hashing, key layout, envelopes,
glob translation for server-side capacity."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from collections import Counter

import pytest
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.asyncio.sentinel import SentinelConnectionPool

from telephonist.core.layers import InvalidChannelLayerError, make_channel_layer
from telephonist.core.redis import RedisChannelLayer
from telephonist.core.redis.backoff import Backoff
from telephonist.core.redis.groups import glob_to_lua, lua_rules, tag_of
from telephonist.core.redis.hosts import parse_hosts
from telephonist.core.redis.keys import (
    TOKEN_LENGTH,
    KeyLayout,
    pack_envelope,
    process_tag,
    unpack_envelope,
)
from telephonist.core.redis.ring import HashRing


def test_hosts_in_every_channels_redis_form() -> None:
    url, pair, kwargs, address, sentinel = parse_hosts(
        [
            "redis://127.0.0.1:6380/2",
            ("127.0.1.1", 6379),
            {"host": "h", "port": 7000, "password": "pw"},
            {"address": "rediss://h2:6390", "ssl_cert_reqs": "none"},
            {"sentinels": [("s1", 26379)], "master_name": "mymaster", "db": 1},
        ]
    )
    assert url.identity == "redis://127.0.0.1:6380/2"
    assert pair.kwargs == {"host": "127.0.1.1", "port": 6379}
    assert kwargs.identity == "h:7000/0"
    assert address.url is not None
    assert address.url.get_secret_value() == "rediss://h2:6390"
    assert "pw" not in repr(kwargs)  # credentials are SecretStr in every spec
    assert address.kwargs == {"ssl_cert_reqs": "none"}
    assert sentinel.master_name == "mymaster"
    assert sentinel.sentinels == (("s1", 26379),)
    assert sentinel.kwargs == {"db": 1}


def test_identities_never_show_credentials() -> None:
    [spec] = parse_hosts(["redis://user:s3cret@127.0.1.1:6379/0?ssl_cert_reqs=none"])
    assert spec.identity == "redis://127.0.1.1:6379/0"
    layer = RedisChannelLayer(hosts=["rediss://:s3cret@h:6390"])
    assert "s3cret" not in repr(layer.describe())


def test_host_url_schemes_pick_the_connection_class() -> None:
    [tls, unix] = parse_hosts(["rediss://127.0.0.1:6390", "unix:///tmp/r.sock?db=3"])
    assert tls.make_pool().connection_class is SSLConnection
    pool = unix.make_pool()
    assert pool.connection_class is UnixDomainSocketConnection
    assert pool.connection_kwargs["path"] == "/tmp/r.sock"
    [sentinel] = parse_hosts([{"sentinels": [("127.0.0.1", 1)], "master_name": "m"}])
    assert isinstance(sentinel.make_pool(), SentinelConnectionPool)
    # TCP connections get keepalive (a blocking pop must notice a vanished peer);
    # unix sockets have no such option.
    assert tls.make_pool().connection_kwargs["socket_keepalive"] is True
    assert "socket_keepalive" not in pool.connection_kwargs


def test_cluster_member_spec_keeps_the_seed_options() -> None:
    [seed] = parse_hosts(["rediss://:secret@127.0.0.1:7000?ssl_cert_reqs=none"])
    member = seed.with_address("127.0.0.2", 7001)
    assert (member.kwargs["host"], member.kwargs["port"]) == ("127.0.0.2", 7001)
    assert member.kwargs["password"].get_secret_value() == "secret"
    assert member.kwargs["connection_class"] is SSLConnection


@pytest.mark.parametrize(
    "hosts",
    [[], ["http://x"], ["redis://a:1", "redis://a:1"], [{"sentinels": [("s", 1)]}], [42]],
)
def test_bad_hosts_are_refused(hosts: object) -> None:
    with pytest.raises(InvalidChannelLayerError):
        parse_hosts(hosts)


def test_channels_redis_config_names_are_accepted() -> None:
    layer = make_channel_layer(
        {
            "BACKEND": "redis",
            "CONFIG": {
                "hosts": [("127.0.0.1", 6379)],
                "prefix": "asgi",
                "expiry": 30,
                "group_expiry": 600,
                "capacity": 50,
                "channel_capacity": {"http.request": 200, re.compile(r"^websocket"): 20},
            },
        }
    )
    assert isinstance(layer, RedisChannelLayer)
    assert (layer.prefix, layer.expiry, layer.group_expiry) == ("asgi", 30, 600)
    assert layer.get_capacity("http.request") == 200
    assert layer.get_capacity("websocket.send!x") == 20
    assert layer.get_capacity("other") == 50
    assert layer.extensions == ["groups", "flush", "claims", "listen"]  # core/claims, listeners


def test_unsupported_options_are_refused_clearly() -> None:
    with pytest.raises(InvalidChannelLayerError, match="symmetric_encryption_keys"):
        RedisChannelLayer(symmetric_encryption_keys=["k"])
    with pytest.raises(InvalidChannelLayerError, match="prefix"):
        RedisChannelLayer(prefix="a{b}")
    with pytest.raises(InvalidChannelLayerError, match="serializer_format"):
        RedisChannelLayer(serializer_format="json")
    RedisChannelLayer(serializer_format="msgpack", random_prefix_length=8)


def test_ring_is_consistent_and_spreads() -> None:
    hosts = [f"redis://127.0.1.{i}:6379" for i in range(4)]
    ring = HashRing(hosts)
    tags = [f"chan.{i}" for i in range(4000)]
    owners = Counter(ring.index(t) for t in tags)
    assert all(600 < n < 1400 for n in owners.values()), owners
    # The order hosts are listed in does not matter: placement follows identity.
    reordered = HashRing(list(reversed(hosts)))
    assert all(hosts[ring.index(t)] == list(reversed(hosts))[reordered.index(t)] for t in tags)
    # Adding a fifth host moves only about a fifth of the channels.
    grown = HashRing([*hosts, "redis://127.0.1.9:6379"])
    moved = sum(hosts[ring.index(t)] != [*hosts, "x"][grown.index(t)] for t in tags)
    assert moved < len(tags) * 0.3


def test_process_channels_share_one_tag_whatever_their_prefix() -> None:
    token = "a1b2c3d4e5f6"
    assert len(token) == TOKEN_LENGTH
    names = [f"specific.{token}!x1", f"http.response.{token}!y", f"{token}!z"]
    assert {process_tag(n) for n in names} == {token}
    assert tag_of("plain.channel") == "plain.channel"
    layout = KeyLayout("tp")
    assert layout.inbox(token) == "tp:p:{a1b2c3d4e5f6}"
    assert layout.counts(token) == "tp:n:{a1b2c3d4e5f6}"
    assert layout.channel("plain.channel") == "tp:c:{plain.channel}"
    assert KeyLayout("a*b").scan_pattern() == "a\\*b:?:{*"


def test_envelope_round_trip() -> None:
    data = pack_envelope(1234, "a.b!c", b"\x81\xa4type\xa1x")
    envelope = unpack_envelope(data, 100)
    assert envelope.expires_ms == 1234
    assert envelope.channels == ["a.b!c"]
    assert bytes(envelope.payload) == b"\x81\xa4type\xa1x"
    assert unpack_envelope(b"5||payload|with|bars", 100).channels == []
    assert bytes(unpack_envelope(b"5|a!1,a!2|p", 100).payload) == b"p"
    assert unpack_envelope(b"5|a!1,a!2|p", 100).channels == ["a!1", "a!2"]


@pytest.mark.parametrize(
    "glob", ["tiny.*", "http.request", "a?c", "web[sS]ocket.*", "x[!0-9]y", "a-b+c(d)"]
)
def test_globs_translate_to_equivalent_lua_patterns(glob: str) -> None:
    lua = glob_to_lua(glob)
    assert lua is not None
    # For these constructs a Lua pattern reads as a regex once each %-escape is a
    # regex escape (the server-side behaviour is tested in test_behaviour.py).
    as_regex = re.compile(re.sub("%(.)", lambda m: re.escape(m.group(1)), lua))
    for name in [
        "tiny.one",
        "tinyx",
        "http.request",
        "http_request",
        "abc",
        "a.c",
        "ac",
        "websocket.send",
        "webSocket.x",
        "x1y",
        "xay",
        "per%cent",
    ]:
        assert bool(as_regex.match(name)) == fnmatch.fnmatchcase(name, glob), (glob, name)


def test_regex_overrides_make_group_capacity_client_side() -> None:
    assert lua_rules({"tiny.*": 1}) == ["^tiny%..*$", 1]
    assert lua_rules({re.compile("^tiny"): 1}) is None


def test_backoff_grows_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(base=0.05, cap=1.0)
    delays = [backoff.delay() for _ in range(12)]
    assert all(0.05 <= d <= 1.0 for d in delays)
    assert max(delays[:2]) <= 0.1  # starts small...
    assert max(delays[6:]) > 0.2  # ...grows
    assert len({round(d, 6) for d in delays[6:]}) > 1  # ...and is jittered, not lockstep
    backoff.reset()
    assert backoff.delay() <= 0.05 + 1e-9


def test_the_layers_module_exports_the_redis_layer_lazily() -> None:
    from telephonist.core.layers import RedisChannelLayer as exported

    assert exported is RedisChannelLayer


def test_without_the_redis_extra_naming_the_redis_layer_says_what_to_install() -> None:
    # A fresh interpreter in which redis-py cannot be imported, as without the extra.
    code = (
        "import sys\n"
        "sys.modules['redis'] = None\n"
        "import telephonist.core.layers\n"
        "from telephonist.core.layers import *\n"
        "try:\n"
        "    from telephonist.core.layers import RedisChannelLayer\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "RedisChannelLayer needs the redis extra" in done.stdout
    assert "pip install 'telephonist[redis]'" in done.stdout


def test_prefixes_that_could_break_keys_or_framing_are_refused() -> None:
    for bad in ["", "a{b", "a}b", "a|b", "a,b", "a b", "a\nb", "a\x00b", "a\tb"]:
        with pytest.raises(InvalidChannelLayerError, match="prefix"):
            RedisChannelLayer(prefix=bad)
    for good in ["P", "P:x", "app:asgi", "a*b", "ü"]:
        assert RedisChannelLayer(prefix=good).prefix == good


@pytest.mark.parametrize("other", ["P:x", "P:c", "P:c:", "P:", "P:*", "P[c]", "PP", "P:c:{x"])
def test_a_prefix_s_scan_pattern_matches_no_key_of_another_prefix(other: str) -> None:
    # SCAN MATCH globs, checked here with the same rules (fnmatch, after unescaping the
    # prefix); the real-server check is tests/security/test_prefixes.py.
    pattern = KeyLayout("P").scan_pattern()
    assert pattern == "P:?:{*"
    if "{" in other:
        with pytest.raises(ValueError, match="prefix"):
            KeyLayout(other)
        return
    layout = KeyLayout(other)
    keys = [layout.channel("a.b"), layout.inbox("t" * 12), layout.counts("t" * 12)]
    keys.append(layout.group("g"))
    assert not [key for key in keys if fnmatch.fnmatchcase(key, pattern)]
    own = KeyLayout("P")
    for key in [own.channel("a.b"), own.inbox("t" * 12), own.counts("t" * 12), own.group("g")]:
        assert fnmatch.fnmatchcase(key, pattern)
