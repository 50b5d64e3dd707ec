"""The machines of a test deployment, each on its own address.

Where the machine allows it (root, ``ip netns``), each is a network namespace with one
veth link to a bridge in ours, on a private /24 of 10.0.0.0/8 that nothing here uses:
machines then have separate loopbacks and port spaces, and reach each other only
through the bridge, as hosts on a LAN do. The test process (standing for clients on
the internet) reaches them through the bridge's own address. Every name we create
starts with one random prefix, and ``close`` deletes every one of them, also after a
failure.

Where namespaces are refused, machines are loopback addresses of 127.R.S.0/24 in our
namespace: separate addresses, one port space and one loopback (see ``loopback``).
"""

from __future__ import annotations

import random
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .page import Machine

__all__ = ["Network"]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _in_use(subnet: str) -> bool:
    shown = (
        subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, timeout=30).stdout
        + subprocess.run(["ip", "route"], capture_output=True, text=True, timeout=30).stdout
    )
    return subnet in shown


class Network:
    def __init__(self, mode: str, subnet: str, root: Path) -> None:
        self.mode = mode  # "netns" or "loopback"
        self.subnet = subnet  # e.g. "10.213.7."
        self.root = root
        self.prefix = f"tpd{secrets.token_hex(3)}"
        self.machines: dict[str, Machine] = {}
        self._links: list[str] = []
        self._namespaces: list[str] = []
        self.bridge = f"{self.prefix}br"

    def _open(self) -> None:
        if self.mode == "netns":
            _ip("link", "add", self.bridge, "type", "bridge")
            self._links.append(self.bridge)
            _ip("addr", "add", f"{self.client_address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")

    @property
    def client_address(self) -> str:
        """Where the test's own clients come from."""
        return f"{self.subnet}254"

    @property
    def loopback(self) -> bool:
        return self.mode == "loopback"

    def add(self, name: str, octet: int) -> Machine:
        address = f"{self.subnet}{octet}"
        namespace = None
        if self.mode == "netns":
            namespace = f"{self.prefix}-{name}"
            veth = f"{self.prefix}v{octet}"
            _ip("netns", "add", namespace)
            self._namespaces.append(namespace)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            self._links.append(veth)
            _ip("link", "set", veth, "master", self.bridge, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "eth0", "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        machine = Machine(name, self.root / name, address, self.subnet, namespace)
        if self.loopback:
            # One interface for every machine: a connection to 127.R.S.N leaves from
            # 127.0.0.1 unless told otherwise, and a replica or a sentinel would then
            # announce itself at 127.0.0.1. Real hosts connect from their own address.
            machine.redis_extra = (f"bind-source-addr {address}",)
        machine.root.mkdir(parents=True, exist_ok=True)
        self.machines[name] = machine
        return machine

    def close(self) -> None:
        """Delete every link and namespace we made (veths first: deleting a namespace
        frees its end of the pair later, asynchronously)."""
        for link in reversed(self._links):
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=30)
        for namespace in self._namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        left = (
            subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, timeout=30).stdout
            + subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        )
        assert self.prefix not in left, f"left behind:\n{left}"

    @classmethod
    @contextmanager
    def create(cls, root: Path, mode: str = "auto") -> Iterator[Network]:
        """``mode``: "netns", "loopback", or "auto" (namespaces if allowed)."""
        rng = random.Random()
        if mode == "auto":
            mode = "netns" if _namespaces_allowed() else "loopback"
        for _ in range(50):
            first = 10 if mode == "netns" else 127
            subnet = f"{first}.{rng.randrange(200, 250)}.{rng.randrange(1, 255)}."
            if not _in_use(subnet):
                break
        else:
            raise AssertionError("no free subnet found")
        network = cls(mode, subnet, root)
        try:
            network._open()
            yield network
        finally:
            network.close()


def _namespaces_allowed() -> bool:
    name = f"tpdprobe{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", name)
    except (OSError, subprocess.CalledProcessError):
        return False
    _ip("netns", "del", name)
    return True
