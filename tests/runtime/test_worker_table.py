"""The worker's connection table (``telephonist.affinity.worker``) on a fake clock: every
row of its documented transition table, then random interleavings (hypothesis)."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from telephonist.affinity import worker as module
from telephonist.affinity.actions import (
    Bind,
    Discarded,
    Gone,
    Heartbeat,
    Interrupt,
    Released,
    Run,
    ServerLost,
)
from telephonist.affinity.actions import WorkerAction as Action
from telephonist.affinity.worker import Queue, WorkerState, WorkerTable
from telephonist.config import AffinitySettings

from .tables import documented_rows, markdown_table

SETTINGS = AffinitySettings(heartbeat_interval=1.0, heartbeat_misses=3)
SILENT = SETTINGS.heartbeat_interval * (SETTINGS.heartbeat_misses + 1)  # then it is lost
SERVER = "srv.aaaaaa.bbbbbbbbbbbb!"
OTHER = "srv.cccccc.bbbbbbbbbbbb!"
CONN = SERVER + "probe.1"
S = WorkerState


class Harness:
    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.table = WorkerTable(SETTINGS, self.counters)
        self.now = 100.0
        self.queue: Queue = deque()  # the runner's, once one started

    def started(self, queue: Queue | None) -> bool:
        if queue is not None:
            self.queue = queue
        return queue is not None

    def take(self, n: int = 0) -> list[Action]:
        actions = self.table.take(CONN, "probe.connect", {"n": n}, self.now)
        self.started(next(a.queue for a in actions if isinstance(a, Run)))
        return actions

    def event(self, n: int) -> bool:
        return self.started(self.table.event(CONN, "probe.data", {"n": n}))

    def run_all(self) -> tuple[list[int], Released | None]:
        """What a runner does: consume the queue, then report done."""
        seen = []
        while self.queue:
            seen.append(self.queue.popleft()[1]["n"])
        return seen, self.table.done(CONN)

    def expire(self, at: float) -> list[Action]:
        self.now = at
        return self.table.expire(at)[0]

    @property
    def state(self) -> WorkerState | None:
        return self.table.state(CONN)


def reach(state: str) -> Harness:
    h = Harness()
    if state in ("IDLE", "RUNNING", "CLOSING"):
        h.take()
        if state == "IDLE":
            h.run_all()
        elif state == "CLOSING":
            h.table.release(CONN)
    assert state == "(none)" or h.state is S[state]
    h.counters.clear()
    return h


def _documented_rows() -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in documented_rows(module)]


def take(h: Harness) -> None:
    assert h.take() == [Bind(CONN), Run(CONN, h.queue)]
    assert h.state is S.RUNNING
    assert h.table.deadline == h.now + SETTINGS.heartbeat_interval
    assert h.table.snapshot() == {"connections": 1, "hosts": {SERVER: 1}}


def unbound_event(h: Harness) -> None:
    assert h.started(h.table.event(CONN, "probe.data", {"n": 1}))
    assert h.counters["unbound_events"] == 1
    assert h.state is S.CLOSING
    assert h.run_all() == ([1], Released(CONN, "closed"))
    assert h.started(h.table.detached(CONN, "probe.data", {"n": 2}))  # no counter: expected
    assert h.counters["unbound_events"] == 1
    assert h.table.deadline == module.INF  # nothing bound: no heartbeats


def idle_event(h: Harness) -> None:
    assert h.event(1) is True
    assert h.state is S.RUNNING


def busy_event(state: WorkerState) -> Callable[[Harness], None]:
    def check(h: Harness) -> None:
        assert h.event(1) is False  # its runner is already at work: the fast path
        assert h.state is state
        assert h.run_all()[0] == [0, 1]

    return check


def overtaking_event(state: WorkerState) -> Callable[[Harness], None]:
    def check(h: Harness) -> None:
        gone = {"n": 1, "type": "http.disconnect"}
        assert h.table.event(CONN, "http.disconnect", gone) == Interrupt(CONN)
        assert h.state is state
        assert h.counters["overtaking"] == 1
        assert h.run_all()[0] == [0, 1]  # still delivered, in order, once
        # With no runner at work it is an event like any other: it starts one.
        h = reach("IDLE")
        assert h.started(h.table.event(CONN, "http.disconnect", gone))
        assert h.state is S.RUNNING
        assert h.counters["overtaking"] == 0

    return check


def running_done(h: Harness) -> None:
    assert h.run_all() == ([0], None)
    assert h.state is S.IDLE


def closing_done(h: Harness) -> None:
    assert h.run_all() == ([0], Released(CONN, "closed"))
    assert h.state is None
    assert h.table.snapshot() == {"connections": 0, "hosts": {}}


def idle_release(h: Harness) -> None:
    assert h.table.release(CONN) == Released(CONN, "closed")
    assert h.state is None


def running_release(h: Harness) -> None:
    assert h.table.release(CONN) is None
    assert h.state is S.CLOSING
    assert h.run_all() == ([0], Released(CONN, "closed"))  # after its last event


def idle_lost(h: Harness) -> None:
    assert h.expire(h.now + SILENT + 0.01) == [ServerLost(SERVER), Released(CONN, "host lost")]
    h = reach("IDLE")
    assert h.table.stop() == [Gone(SERVER), Released(CONN, "worker stopping")]


def running_lost(h: Harness) -> None:
    h.event(1)
    # The event proves the server alive through one silence period (its acks may be
    # stuck behind its events in a full inbox); silent past the next, it is lost.
    assert h.expire(h.now + SILENT + 0.01) == [Heartbeat(SERVER)]
    assert h.expire(h.now + SILENT + 0.01) == [ServerLost(SERVER), Discarded(CONN, 2)]
    assert h.counters["dropped_host_lost"] == 2
    assert h.state is S.CLOSING
    assert h.run_all() == ([], Released(CONN, "host lost"))
    h = reach("RUNNING")
    assert h.table.stop() == [Gone(SERVER), Discarded(CONN, 1)]
    assert h.run_all() == ([], Released(CONN, "worker stopping"))


def heartbeat_due(h: Harness) -> None:
    assert h.expire(h.now + 0.5) == []
    assert h.expire(h.now + 0.5) == [Heartbeat(SERVER)]
    assert h.table.deadline == h.now + SETTINGS.heartbeat_interval
    h.table.ack(SERVER, [], h.now)
    for _ in range(int(SILENT)):
        assert h.expire(h.now + 1.0) == [Heartbeat(SERVER)]
    assert h.expire(h.now + 1.0) == [ServerLost(SERVER), Released(CONN, "host lost")]
    assert h.expire(h.now + 1.0) == []  # nothing held: no more heartbeats
    assert h.table.deadline == module.INF


def stop(h: Harness) -> None:
    other = OTHER + "probe.2"
    h.table.take(other, "probe.connect", {"n": 0}, h.now)
    actions = h.table.stop()
    assert actions[0] == Gone(SERVER)
    assert Gone(OTHER) in actions
    assert h.table.deadline == module.INF


TRANSITIONS: dict[tuple[str, str], tuple[str, Callable[[Harness], None]]] = {
    ("(none)", "first event (take)"): ("(none)", take),
    ("(none)", "event, detached event"): ("(none)", unbound_event),
    ("IDLE", "event"): ("IDLE", idle_event),
    ("RUNNING", "event"): ("RUNNING", busy_event(S.RUNNING)),
    ("CLOSING", "event"): ("CLOSING", busy_event(S.CLOSING)),
    ("RUNNING", "overtaking event"): ("RUNNING", overtaking_event(S.RUNNING)),
    ("CLOSING", "overtaking event"): ("CLOSING", overtaking_event(S.CLOSING)),
    ("RUNNING", "runner done"): ("RUNNING", running_done),
    ("CLOSING", "runner done"): ("CLOSING", closing_done),
    ("IDLE", "release"): ("IDLE", idle_release),
    ("RUNNING", "release"): ("RUNNING", running_release),
    ("IDLE", "server lost / worker stopping"): ("IDLE", idle_lost),
    ("RUNNING", "server lost / worker stopping"): ("RUNNING", running_lost),
    ("(time)", "heartbeat due"): ("IDLE", heartbeat_due),
    ("(stop)", "worker stops"): ("RUNNING", stop),
}


def test_every_documented_transition_is_tested() -> None:
    assert set(_documented_rows()) == set(TRANSITIONS)


@pytest.mark.parametrize(
    "row", sorted(TRANSITIONS), ids=lambda r: f"{r[0]}+{r[1]}".replace(" ", "_")
)
def test_transition(row: tuple[str, str]) -> None:
    start, check = TRANSITIONS[row]
    check(reach(start))


def test_an_ack_keeps_a_server_alive_and_carries_releases() -> None:
    h = reach("IDLE")
    h.expire(h.now + SILENT - 0.5)
    assert h.table.ack(SERVER, [CONN, "srv.x.y!unknown"], h.now) == [Released(CONN, "closed")]
    h = reach("IDLE")
    for _ in range(10):
        h.expire(h.now + 1.0)
        h.table.ack(SERVER, [], h.now)
    assert h.state is S.IDLE  # answered all along: never lost


def test_events_keep_a_server_alive_when_its_acks_cannot_arrive() -> None:
    # A burst fills the worker's inbox with the server's events: its acks, sent to
    # the same inbox, are refused for as long as the worker is behind. The events
    # that keep coming say the server is alive; only silence on both counts.
    h = reach("RUNNING")
    for n in range(1, 4 * int(SILENT)):
        h.event(n)
        assert h.expire(h.now + 1.0) == [Heartbeat(SERVER)]
    assert h.state is S.RUNNING
    assert h.expire(h.now + 1.0) == [Heartbeat(SERVER)]  # the last event's period
    for _ in range(int(SILENT) - 1):
        assert h.expire(h.now + 1.0) == [Heartbeat(SERVER)]
    assert h.expire(h.now + 1.0)[0] == ServerLost(SERVER)


def test_heartbeats_keep_their_schedule_when_a_server_comes_and_goes() -> None:
    h = reach("IDLE")
    first = h.table.deadline
    h.table.release(CONN)  # nothing held any more, but the beat was scheduled
    h.now += 0.5
    h.table.take(CONN, "probe.connect", {"n": 0}, h.now)
    assert h.table.deadline == first  # no second schedule: one beat per interval


# -- random interleavings ---------------------------------------------------------------

CONNECTIONS = [SERVER + "probe.1", OTHER + "probe.2"]


class WorkerTableMachine(RuleBasedStateMachine):
    """Takes, events, releases, acks, runner steps and time in any order: at most one
    runner per connection, events run in the order queued and none is lost silently,
    each release signal comes once and only when nothing of it is left to run."""

    @initialize()
    def setup(self) -> None:
        self.counters: Counter[str] = Counter()
        self.table = WorkerTable(SETTINGS, self.counters)
        self.now = 0.0
        self.serial = 0
        self.running: dict[str, Queue] = {}  # connection -> its runner's queue
        self.queued: dict[str, list[int]] = {c: [] for c in CONNECTIONS}
        self.ran: dict[str, list[int]] = {c: [] for c in CONNECTIONS}
        self.discarded = 0
        self.last_ack: dict[str, float] = {}
        self.bound: set[str] = set()  # taken here and not released yet
        self.cut: list[str] = []  # servers lost or left, in this batch of actions
        self.beats: list[tuple[float, str]] = []
        self.heard: set[str] = set()  # servers with an event since their silence was checked
        self.interrupts = 0

    def _queue(self, conn: str, queue: Queue | None) -> None:
        if queue is not None:
            assert conn not in self.running, "a second runner"
            self.running[conn] = queue
        else:
            assert conn in self.running, "queued with nobody to run it"

    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Run):
                self._queue(action.connection, action.queue)
            elif isinstance(action, Released):
                assert action.connection not in self.running, "released while running"
                assert self.queued[action.connection] == [], "released with events left"
                self.bound.discard(action.connection)
            elif isinstance(action, Discarded):
                dropped = self.queued[action.connection][: action.events]
                assert len(dropped) == action.events
                self.queued[action.connection] = []
                self.discarded += action.events
            elif isinstance(action, Heartbeat):
                self.beats.append((self.now, action.server))
            elif isinstance(action, ServerLost | Gone):
                if isinstance(action, ServerLost):
                    assert self.now - self.last_ack[action.server] > SILENT
                self.cut.append(action.server)

    def _n(self) -> int:
        self.serial += 1
        return self.serial

    @rule(conn=st.sampled_from(CONNECTIONS))
    def take(self, conn: str) -> None:
        if self.table.state(conn) is not None:
            return  # a second first event cannot happen: the server numbers them
        n = self._n()
        self.queued[conn].append(n)
        server = conn.split("!")[0] + "!"
        if server not in self.table.snapshot()["hosts"]:
            self.last_ack[server] = self.now  # known from now on
            self.heard.discard(server)  # a new record: what its old connections had is gone
        actions = self.table.take(conn, "probe.connect", {"n": n}, self.now)
        assert actions[0] == Bind(conn)
        self.bound.add(conn)
        self._perform(actions[1:])

    def _perform_all(self, actions: list[Action]) -> None:
        """Perform a batch; the queued events of a lost server's connections are gone."""
        self.cut = []
        self._perform(actions)
        for server in self.cut:
            for conn in [c for c in self.bound if c.startswith(server)]:
                assert self.queued[conn] == [], "a lost server's events still queued"
                self.bound.discard(conn)

    @rule(conn=st.sampled_from(CONNECTIONS), detached=st.booleans(), overtakes=st.booleans())
    def event(self, conn: str, detached: bool, overtakes: bool) -> None:
        if conn in self.bound:
            self.heard.add(conn.split("!")[0] + "!")
        n = self._n()
        self.queued[conn].append(n)
        message = {"n": n, "type": "http.disconnect" if overtakes else "probe.data"}
        busy = conn in self.running
        if detached:
            start = self.table.detached(conn, "probe.data", message)
        else:
            start = self.table.event(conn, "probe.data", message)
        if isinstance(start, Interrupt):
            # Only an overtaking event, only while a runner is at work on this connection;
            # the event itself is still queued behind the others (checked by run_one).
            assert overtakes, "an ordinary event interrupted its runner"
            assert busy, "interrupted with no runner at work"
            assert start.connection == conn
            self.interrupts += 1
            self._queue(conn, None)
            return
        assert not (overtakes and busy), "an overtaking event did not interrupt its runner"
        self._queue(conn, start)

    @rule(conn=st.sampled_from(CONNECTIONS))
    def run_one(self, conn: str) -> None:
        if conn not in self.running:
            return
        queue = self.running[conn]
        event = queue.popleft() if queue else None
        if event is None:
            del self.running[conn]
            released = self.table.done(conn)
            if released is not None:
                self._perform([released])
            return
        assert event[1]["n"] == self.queued[conn].pop(0), "out of order"
        self.ran[conn].append(event[1]["n"])

    @rule(conn=st.sampled_from(CONNECTIONS))
    def run_to_the_end(self, conn: str) -> None:
        """The common case: the runner empties the queue before anything else happens."""
        while conn in self.running:
            self.run_one(conn)

    @rule(conn=st.sampled_from(CONNECTIONS))
    def release(self, conn: str) -> None:
        released = self.table.release(conn)
        if released is not None:
            self._perform([released])

    @rule(server=st.sampled_from([SERVER, OTHER]), conn=st.sampled_from(CONNECTIONS))
    def ack(self, server: str, conn: str) -> None:
        if server in self.table.snapshot()["hosts"]:
            self.last_ack[server] = self.now
        self._perform(list(self.table.ack(server, [conn], self.now)))

    @rule(dt=st.sampled_from([0.1, 0.9, 2.5, 6.0]))
    def advance(self, dt: float) -> None:
        target = self.now + dt
        while self.table.deadline <= target:
            self.now = max(self.now, self.table.deadline)
            for server in self.table.snapshot()["hosts"]:
                # A silent server whose events keep coming is alive (``_heard``).
                if self.now - self.last_ack[server] > SILENT and server in self.heard:
                    self.last_ack[server] = self.now
                    self.heard.discard(server)
            actions, _ = self.table.expire(self.now)
            self._perform_all(actions)
        self.now = target

    @invariant()
    def heartbeats_come_every_interval_while_anything_is_held(self) -> None:
        if not hasattr(self, "table"):
            return
        held = self.table.snapshot()["hosts"]
        if held:
            assert self.table.deadline <= self.now + SETTINGS.heartbeat_interval

    @invariant()
    def a_silent_server_is_dropped_within_one_more_interval(self) -> None:
        if not hasattr(self, "table"):
            return
        for server in self.table.snapshot()["hosts"]:
            assert self.now - self.last_ack[server] <= SILENT + SETTINGS.heartbeat_interval

    def teardown(self) -> None:
        if not hasattr(self, "table"):
            return
        for conn in CONNECTIONS:
            while conn in self.running:
                self.run_one(conn)
        self._perform_all(self.table.stop())
        for conn in CONNECTIONS:
            while conn in self.running:
                self.run_one(conn)
        assert len(self.table) == 0
        leftover = sum(len(q) for q in self.queued.values())
        assert leftover == 0, self.queued
        total = sum(len(r) for r in self.ran.values()) + self.discarded
        assert total == self.serial
        assert self.counters["overtaking"] == self.interrupts


WorkerTableMachine.TestCase.settings = hypothesis_settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
test_worker_table_interleavings = WorkerTableMachine.TestCase


def test_docs_runtime_md_shows_this_transition_table() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "runtime.md").read_text()
    assert markdown_table(docs, "The worker's table") == documented_rows(module)
