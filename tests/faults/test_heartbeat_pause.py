"""The affinity tables with their own layer down (no I/O, a fake clock): silence during
an outage takes no one for dead, and the allowance starts afresh once the layer is
back; a peer that stays silent after that is lost as before."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from telephonist.affinity.actions import Abort, Heartbeat, ServerLost
from telephonist.affinity.server import ServerTable
from telephonist.affinity.worker import WorkerTable
from telephonist.config import AffinitySettings

SETTINGS = AffinitySettings(heartbeat_interval=1.0, heartbeat_misses=3, bind_timeout=10.0)
LIMIT = 3.0
SERVER = "srv.aaaaaa.bbbbbbbbbbbb!"
WORKER = "worker.111111.cccccccccccc!"
CONN = SERVER + "ws.1"


def _bound_server() -> ServerTable:
    table = ServerTable(SERVER, SETTINGS, Counter())
    table.open(CONN)
    table.event(CONN, "websocket.connect", {"type": "websocket.connect"}, False, lambda: 0.0)
    table.bind(CONN, WORKER, 1.0, 0.0)
    assert table.next_pending(CONN) is None
    table.flushed(CONN)
    return table


@given(outage=st.floats(min_value=0.1, max_value=1000.0))
def test_server_keeps_connections_through_its_own_outage(outage: float) -> None:
    table = _bound_server()
    table.layer_down(0.5)
    actions, nearest = table.expire(0.5 + outage)
    assert actions == []
    assert nearest <= 0.5 + outage + 1.0  # it looks at the layer again an interval later
    back = 0.5 + outage
    table.layer_back(back)
    assert table.expire(back + LIMIT - 0.01)[0] == []
    lost, _ = table.expire(back + LIMIT)
    assert [type(a) for a in lost] == [Abort]  # still silent after the outage: lost


def test_server_outage_counted_once() -> None:
    counters: Counter[str] = Counter()
    table = ServerTable(SERVER, SETTINGS, counters)
    table.layer_down(1.0)
    table.layer_down(2.0)
    table.layer_back(3.0)
    table.layer_back(4.0)
    assert counters["layer_down"] == 1


@given(outage=st.floats(min_value=0.1, max_value=1000.0))
def test_worker_keeps_servers_through_its_own_outage(outage: float) -> None:
    table = WorkerTable(SETTINGS, Counter())
    table.take(CONN, "websocket.connect", {"type": "websocket.connect", "order": 0}, 0.0)
    table.layer_down(0.5)
    actions, _ = table.expire(0.5 + outage)
    assert actions == []  # no heartbeat (none could be sent), no server lost
    back = 0.5 + outage
    table.layer_back(back)
    actions, _ = table.expire(back + 1.0)
    assert [type(a) for a in actions] == [Heartbeat]
    actions, _ = table.expire(back + LIMIT + 1.0 + 0.01)
    assert ServerLost in [type(a) for a in actions]
