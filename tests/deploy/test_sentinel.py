"""docs/deploy.md "Redis Sentinel": the page's ``sentinel`` commands and files (a
master, a replica, three sentinels, an interface server and a worker), nginx in front,
on loopback addresses (this test is also what exercises the fallback of machines that
refuse network namespaces). Clients load the application through nginx; the master is
killed (SIGKILL); the application must serve again within ``BOUND`` seconds. The
measured figures are printed (``pytest -s``) for the page.

"Serving again" is when the first probe made after the kill is answered (a probe is a
new request every 0.1 s, apart from the clients, which may be stuck on requests lost at
the kill). Requests made while the sentinels have not yet agreed wait in the interface
server, which keeps each event for up to the layer's ``retry_budget`` while it
reconnects."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed

from telephonist.testing.processes import Process

from .network import Network
from .nginx import start_nginx, stop_nginx, trust_and_certificate
from .page import files
from .procs import Procs, report, stop_within
from .stack import (
    SITE,
    front_ports,
    http_client,
    install_app,
    run_page_commands,
    status,
    websocket,
    with_layer,
)

pytestmark = [pytest.mark.redis]

MACHINES = {"redis1": 5, "redis2": 6, "web1": 10, "work1": 21}
CLIENTS = 4
REQUEST_TIMEOUT = 12.0  # longer than the outage (a waiting request is answered), bounded
PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 3.0  # a probe lost at the kill gives up; the next ones keep coming
STEADY = 1.5  # seconds of load before the kill and after the recovery


def down_after() -> float:
    found = re.search(r"down-after-milliseconds \S+ (\d+)", files()["/etc/redis/sentinel.conf"])
    assert found
    return int(found.group(1)) / 1000


# The sentinels' own delay, then the failover and the layer's reconnect (backoff capped
# at reconnect_max_delay, 2 s), with room for a loaded 2-core machine.
BOUND = down_after() + 10.0


@dataclass(frozen=True)
class Request:
    started: float
    ended: float
    status: int | None  # None: no answer (a connection error, or the client's timeout)
    probe: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200


class Load:
    """``CLIENTS`` threads, each a keep-alive HTTPS client asking /whoami in a loop, and a
    prober: a new request every ``PROBE_INTERVAL`` in a thread of its own, so that
    clients stuck on requests lost at the kill do not hide when service is back."""

    def __init__(self, url: str, clients: list[httpx.Client], prober: httpx.Client) -> None:
        self.url = url
        self.done: list[Request] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(c,), daemon=True) for c in clients
        ]
        self._threads.append(threading.Thread(target=self._probe, args=(prober,), daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _ask(self, client: httpx.Client, probe: bool = False) -> None:
        started = time.monotonic()
        try:
            answer = client.get(
                self.url,
                headers={"Host": "chat.example.org"},
                timeout=PROBE_TIMEOUT if probe else REQUEST_TIMEOUT,
            )
            status: int | None = answer.status_code
        except httpx.HTTPError:
            status = None
        self.done.append(Request(started, time.monotonic(), status, probe))

    def _run(self, client: httpx.Client) -> None:
        while not self._stop.is_set():
            self._ask(client)

    def _probe(self, client: httpx.Client) -> None:
        probes = []
        while not self._stop.wait(PROBE_INTERVAL):
            probes.append(threading.Thread(target=self._ask, args=(client, True), daemon=True))
            probes[-1].start()
        for probe in probes:
            probe.join(PROBE_TIMEOUT + 5)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT + PROBE_TIMEOUT + 10)
            assert not thread.is_alive()

    def until(self, what: str, condition: Callable[[list[Request]], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not condition(list(self.done)):
            assert time.monotonic() < deadline, f"not {what} within {within}s"
            time.sleep(0.05)  # poll interval of a bounded wait on the clients' results


def _knows_all(sentinel: redis.Redis, replica: str) -> bool:
    others: list[dict[str, Any]] = sentinel.sentinel_sentinels("telephonist")  # type: ignore[assignment]
    replicas: list[dict[str, Any]] = sentinel.sentinel_slaves("telephonist")
    return len(others) == 2 and [r["ip"] for r in replicas] == [replica]


def wait_for_sentinels(sentinels: list[str], replica: str, within: float = 30.0) -> None:
    """Until every sentinel knows the two others and the replica, and the replica has
    its copy: only then can two sentinels agree on a failover and promote it. (A
    sentinel refreshes what it knows of a replica every 10 s, every second once the
    master is down: its view of the replica's link is not waited for.)"""
    deadline = time.monotonic() + within
    clients = [redis.Redis(host=a, port=26379, decode_responses=True) for a in sentinels]
    copy = redis.Redis(host=replica, port=6379, password="change-me", decode_responses=True)
    try:
        while not (
            all(_knows_all(c, replica) for c in clients)
            and copy.info("replication")["master_link_status"] == "up"
        ):
            assert time.monotonic() < deadline, "the sentinels did not find each other"
            time.sleep(0.1)  # poll interval of a bounded wait on the sentinels
    finally:
        copy.close()
        for c in clients:
            c.close()


def kill_under_load(load: Load, master: Process, sentinel: str) -> tuple[float, float]:
    """Load, then SIGKILL the master; returns once a probe made after the kill was
    answered and the load went on for ``STEADY`` more seconds: the times of the kill
    and of the sentinels' switch to the new master."""
    load.start()
    load.until("20 answers", lambda done: sum(r.ok for r in done) >= 20, within=30)
    time.sleep(STEADY)  # steady load before the kill (a duration, not a sync)
    assert all(r.ok for r in load.done)
    with redis.Redis(sentinel, 26379, decode_responses=True) as watcher:
        before = watcher.sentinel_get_master_addr_by_name("telephonist")
        master.signal(signal.SIGKILL)
        killed = time.monotonic()
        master.wait(10)
        while watcher.sentinel_get_master_addr_by_name("telephonist") == before:
            assert time.monotonic() < killed + BOUND, "the sentinels did not switch"
            time.sleep(0.02)  # poll interval of a bounded wait on the sentinel
        switched = time.monotonic()
    load.until(
        "an answer to a probe made after the kill",
        lambda done: any(r.probe and r.ok and r.started > killed for r in done),
        within=BOUND + 5,
    )
    answered = min(r.ended for r in load.done if r.probe and r.ok and r.started > killed)
    load.until(
        "steady load after the recovery",
        lambda done: any(r.started > answered + STEADY for r in done),
        within=30,
    )
    return killed, switched


@dataclass(frozen=True)
class Outage:
    """What the clients saw: ``serving_again`` is when the first probe made after the
    kill was answered, from the kill."""

    serving_again: float
    in_flight: list[Request]  # the clients' requests made before the kill, ended after
    failed: list[Request]  # the clients' requests that ended after the kill, failed
    settled: list[Request]  # made once serving again (plus half a second)

    @classmethod
    def of(cls, done: list[Request], killed: float) -> Outage:
        back = min(r.ended for r in done if r.probe and r.ok and r.started > killed)
        load = [r for r in done if not r.probe]
        return cls(
            serving_again=back - killed,
            in_flight=[r for r in load if r.started < killed < r.ended],
            failed=[r for r in load if r.ended > killed and not r.ok],
            settled=[r for r in done if r.started > back + 0.5],
        )

    def __str__(self) -> str:
        def kinds(requests: list[Request]) -> str:
            seen: dict[str, list[float]] = {}
            for r in requests:
                seen.setdefault(str(r.status or "no answer"), []).append(r.ended - r.started)
            return ", ".join(
                f"{len(times)} {kind} (after {min(times):.2f}-{max(times):.2f} s)"
                for kind, times in sorted(seen.items())
            )

        return (
            f"serving again {self.serving_again:.2f} s after the kill; requests in flight "
            f"at the kill: {kinds(self.in_flight) or 'none'}; all requests ending after "
            f"the kill that failed: {kinds(self.failed) or 'none'}"
        )


def test_sentinel_failover_under_load(machines_root: Path, procs: Procs) -> None:
    with Network.create(machines_root, "loopback") as network:
        machines = {name: network.add(name, octet) for name, octet in MACHINES.items()}
        for name, machine in machines.items():
            # Each sentinel binds its own machine's address, as the page says.
            machine.replacements.append(("bind 10.0.0.5", f"bind 10.0.0.{MACHINES[name]}"))
        web, replica_host = machines["web1"], machines["redis2"]
        http_port, https_port = front_ports(network, web)
        toml = with_layer("sentinel.toml")
        for name in ("web1", "work1"):
            install_app(machines[name], toml)
        started, _ = run_page_commands(procs, machines, "sentinel")
        (master, _replica) = started[""]
        (serve,) = started["serve"]
        (worker,) = started["worker"]
        sentinel_hosts = [machines[n].address for n in ("redis1", "redis2", "web1")]
        wait_for_sentinels(sentinel_hosts, replica_host.address)
        ca = trust_and_certificate(web, names=["chat.example.org", web.address])
        nginx = start_nginx(
            procs, web, web.install(SITE), [(web.address, http_port), (web.address, https_port)]
        )
        client = network.client_address
        base = f"{web.address}:{https_port}"

        with websocket(f"wss://{base}/ws", ca, client) as ws:
            assert json.loads(ws.recv(timeout=10))["worker"] == worker.pid
            clients = [http_client(ca, client) for _ in range(CLIENTS + 1)]
            load = Load(f"https://{base}/whoami", clients[:-1], clients[-1])
            try:
                killed, switched = kill_under_load(load, master, web.address)
            finally:
                load.stop()
                for c in clients:
                    c.close()
            outage = Outage.of(load.done, killed)
            with redis.Redis(replica_host.address, 26379, decode_responses=True) as sentinel:
                promoted = sentinel.sentinel_get_master_addr_by_name("telephonist")
            print(
                f"\nsentinel failover, down-after {down_after():g} s: sentinels switched "
                f"{switched - killed:.2f} s after the kill; {outage}"
            )
            assert outage.serving_again < BOUND
            assert promoted == (replica_host.address, 6379)
            assert outage.settled, "no load after the recovery"
            assert all(r.ok for r in outage.settled)

            # The socket opened before the failover: still served, or closed the way
            # the page says (its worker's heartbeats did not arrive: 1011); never hung.
            try:
                ws.send("after the failover")
                outcome = "echo" if ws.recv(timeout=15) == "after the failover" else "other"
            except ConnectionClosed as closed:
                outcome = f"closed {closed.rcvd.code if closed.rcvd else None}"
            print(f"a WebSocket opened before the kill: {outcome}")
            assert outcome in ("echo", "closed 1011"), outcome
        try:
            with websocket(f"wss://{base}/ws", ca, client) as fresh:
                assert json.loads(fresh.recv(timeout=10))["worker"] == worker.pid
        except Exception as exc:  # say what every process reports, for the diagnosis
            shown = status(web)
            raise AssertionError(
                f"no new WebSocket after the failover: {exc!r}\n{shown}\n"
                f"{report(worker)}\n{report(serve)}"
            ) from exc

        stop_within(worker, 20)
        stop_within(serve, 20)
        stop_nginx(nginx)
