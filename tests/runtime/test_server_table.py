"""The interface server's connection table (``telephonist.affinity.server``) on a fake
clock: every row of its documented transition table, every order of bind, first event,
heartbeat loss and close, then random interleavings of everything (hypothesis)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from telephonist.affinity import control
from telephonist.affinity import server as module
from telephonist.affinity.actions import Abort, Ack, Flush, Forget, Release, Unbind
from telephonist.affinity.actions import ServerAction as Action
from telephonist.affinity.server import Send, ServerState, ServerTable
from telephonist.config import AffinitySettings
from telephonist.core.exceptions import ChannelFull

from .tables import documented_rows, markdown_table

SETTINGS = AffinitySettings(
    heartbeat_interval=1.0, heartbeat_misses=3, bind_timeout=10.0, pending_limit=3
)
LIMIT = SETTINGS.heartbeat_interval * SETTINGS.heartbeat_misses
SERVER = "srv.aaaaaa.bbbbbbbbbbbb!"
W1, W2 = "worker.111111.cccccccccccc!", "worker.222222.cccccccccccc!"
CONN = SERVER + "probe.1"
S = ServerState


class Harness:
    """A table, a fake clock and a driver that performs nothing but records."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.table = ServerTable(SERVER, SETTINGS, self.counters)
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def send(self, channel: str = "probe.data", last: bool = False, n: int = 0) -> Send | None:
        return self.table.event(CONN, channel, {"type": channel, "n": n}, last, self.clock)

    def bind(self, worker: str = W1) -> Flush | Release:
        return self.table.bind(CONN, worker, 1.0, self.now)

    def flush(self) -> tuple[list[Send], Release | None]:
        sent = []
        while (send := self.table.next_pending(CONN)) is not None:
            sent.append(send)
        return sent, self.table.flushed(CONN)

    def expire(self, at: float) -> list[Action]:
        self.now = at
        actions, _ = self.table.expire(at)
        return actions

    def lose_heartbeats(self) -> list[Action]:
        return self.expire(self.now + LIMIT + 0.01)

    @property
    def state(self) -> ServerState | None:
        return self.table.state(CONN)


# -- reaching each state ---------------------------------------------------------------


def reach(state: str, rebind: bool = False) -> Harness:
    h = Harness()
    if state == "(none)":
        return h
    h.table.open(CONN, rebind)
    if state == "NEW":
        return h
    if state == "DETACHED":
        h.send("probe.connect", last=True)
        return h
    h.send("probe.connect")
    if state in ("FLUSHING", "FLUSHING_CLOSED"):
        h.send("probe.data", n=1)  # something left to flush
    if state == "BINDING_CLOSED":
        h.table.close(CONN)
    elif state == "ABORTED":
        h.expire(h.now + SETTINGS.bind_timeout)
    elif state in ("FLUSHING", "FLUSHING_CLOSED", "BOUND"):
        assert isinstance(h.bind(), Flush)
        if state == "FLUSHING_CLOSED":
            h.table.close(CONN)
        if state == "BOUND":
            h.flush()
    assert state == "(none)" or h.state is S[state], (state, h.state)
    h.counters.clear()
    return h


# -- every documented transition -------------------------------------------------------


def _documented_rows() -> list[tuple[str, str, str, str]]:
    return [(r[0], r[1], r[2], r[3]) for r in documented_rows(module)]


def _late_bind(h: Harness, before: ServerState | None) -> None:
    assert h.bind(W2) == Release(W2, CONN)
    assert h.counters["late_binds"] == 1
    assert h.state is before


def _lost_both_ways(start: str, check: Callable[[Harness, list[Action]], None]) -> None:
    for lose in ("gone", "silence"):
        h = reach(start)
        actions = h.table.gone(W1) if lose == "gone" else h.lose_heartbeats()
        check(h, actions)


def none_event(h: Harness) -> None:
    assert h.send() == ("probe.data", {"type": "probe.data", "n": 0, "reply_channel": CONN})
    assert h.counters["unaffiliated"] == 1


def new_event(h: Harness) -> None:
    channel, message = h.send("probe.connect") or ("", {})
    assert (channel, message["order"]) == ("probe.connect", 0)
    assert control.DETACHED not in message
    assert h.state is S.BINDING
    assert h.table.deadline == h.now + SETTINGS.bind_timeout


def new_event_last(h: Harness) -> None:
    channel, message = h.send("probe.connect", last=True) or ("", {})
    assert (channel, message["order"], message[control.DETACHED]) == ("probe.connect", 0, True)
    assert h.state is S.DETACHED
    assert h.table.deadline == module.INF  # nobody watches it
    assert h.counters["detached"] == 1


def new_first_send_failed(h: Harness) -> None:
    h.send("probe.connect", last=True)
    h.table.event_failed(CONN)
    assert h.state is S.NEW
    assert h.counters["detached"] == 0
    _, message = h.send("probe.connect") or ("", {})
    assert message["order"] == 0  # the failed one did not count


def binding_first_send_failed(h: Harness) -> None:
    h.table.event_failed(CONN)
    assert h.state is S.NEW
    assert h.table.expire(h.now + 60)[0] == []  # no bind deadline left behind
    assert (h.send("probe.connect") or ("", {}))[1]["order"] == 0


def new_or_detached_close(new: Harness) -> None:
    for h in (new, reach("DETACHED")):
        assert h.table.close(CONN) is None
        assert h.state is None


def binding_event(h: Harness) -> None:
    for n in range(SETTINGS.pending_limit):
        assert h.send(n=n) is None
    with pytest.raises(ChannelFull):
        h.send()
    assert h.counters["pending_full"] == 1
    assert h.state is S.BINDING


def binding_bind(h: Harness) -> None:
    h.send(n=1)
    assert h.bind() == Flush(CONN)
    assert h.state is S.FLUSHING
    assert h.table.deadline == h.now + LIMIT  # the worker is watched from now on
    sent, release = h.flush()
    assert [(c, m["message"]["order"]) for c, m in sent] == [(control.inbox_of(W1), 1)]
    assert release is None


def binding_close(h: Harness) -> None:
    assert h.table.close(CONN) is None
    assert h.state is S.BINDING_CLOSED
    assert h.table.snapshot()["connections"] == {"closing": 1}


def binding_deadline(h: Harness) -> None:
    h.send(n=1)
    assert h.expire(h.now + SETTINGS.bind_timeout - 0.01) == []
    assert h.expire(h.now + 0.01) == [Abort(CONN, module.BIND_TIMEOUT)]
    assert h.state is S.ABORTED
    assert h.counters["bind_timeout"] == h.counters["pending_dropped"] == 1


def binding_closed_bind(h: Harness) -> None:
    assert h.bind() == Flush(CONN)
    assert h.state is S.FLUSHING_CLOSED


def binding_closed_deadline(h: Harness) -> None:
    assert h.expire(h.now + SETTINGS.bind_timeout) == [Forget(CONN, module.BIND_TIMEOUT)]
    assert h.state is None


def flushing_event(h: Harness) -> None:
    assert h.send(n=2) is None  # joins the buffer, behind the one waiting
    sent, _ = h.flush()
    assert [m["message"]["n"] for _, m in sent] == [1, 2]
    assert [m["message"]["order"] for _, m in sent] == [1, 2]


def flushing_empty(h: Harness) -> None:
    assert h.flush()[1] is None
    assert h.state is S.BOUND


def flushing_close(h: Harness) -> None:
    assert h.table.close(CONN) is None
    assert h.state is S.FLUSHING_CLOSED


def flushing_lost(h: Harness) -> None:
    def check(h: Harness, actions: list[Action]) -> None:
        assert [type(a) for a in actions] == [Abort]
        assert h.state is S.ABORTED
        assert h.counters["pending_dropped"] == h.counters["worker_lost"] == 1
        assert h.flush() == ([], None)

    _lost_both_ways("FLUSHING", check)


def flushing_closed_empty(h: Harness) -> None:
    sent, release = h.flush()
    assert len(sent) == 1
    assert release == Release(W1, CONN)  # after its events
    assert h.state is None


def flushing_closed_lost(h: Harness) -> None:
    def check(h: Harness, actions: list[Action]) -> None:
        assert [type(a) for a in actions] == [Forget]
        assert h.state is None
        assert h.counters["pending_dropped"] == 1

    _lost_both_ways("FLUSHING_CLOSED", check)


def bound_event(h: Harness) -> None:
    send = h.send(n=5)
    assert type(send) is tuple  # the fast path: no action object
    assert send == (
        control.inbox_of(W1),
        control.event(
            "probe.data", {"type": "probe.data", "n": 5, "reply_channel": CONN, "order": 1}
        ),
    )
    assert h.state is S.BOUND


def bound_close(h: Harness) -> None:
    assert h.table.close(CONN) == Release(W1, CONN)
    assert h.state is None
    assert h.table.snapshot() == {"connections": {}, "workers": {W1: 0}}


def bound_lost(h: Harness) -> None:
    def check(h: Harness, actions: list[Action]) -> None:
        assert len(actions) == 1
        assert isinstance(actions[0], Abort)
        assert h.state is S.ABORTED
        assert h.table.snapshot()["workers"] == {}

    _lost_both_ways("BOUND", check)


def detached_event(h: Harness) -> None:
    channel, message = h.send(n=1) or ("", {})
    assert (channel, message["order"], message[control.DETACHED]) == ("probe.data", 1, True)
    assert h.state is S.DETACHED


def aborted_event(h: Harness) -> None:
    assert h.send() is None
    assert h.counters["aborted"] == 1


def aborted_close(h: Harness) -> None:
    assert h.table.close(CONN) is None  # aborted at its bind deadline: no worker
    assert h.state is None
    # Aborted once bound: the worker, presumed dead, still gets its release.
    h = reach("BOUND")
    h.table.gone(W1)
    assert h.table.close(CONN) == Release(W1, CONN)


def any_other_bind(h: Harness) -> None:
    for state in ("(none)", "NEW", "FLUSHING", "FLUSHING_CLOSED", "BOUND", "DETACHED", "ABORTED"):
        h = reach(state)
        _late_bind(h, h.state)


def _unbound(h: Harness, actions: list[Action], reason: str) -> None:
    """A conversation that lost its worker: NEW again, its next event binds anew."""
    assert actions == [Unbind(CONN, reason)]
    assert h.state is S.NEW
    assert h.counters["unbound"] == 1
    channel, message = h.send("probe.data", n=7) or ("", {})
    assert (channel, message["order"]) == ("probe.data", 0)  # the shared channel, anew
    assert h.state is S.BINDING
    assert h.bind(W2) == Flush(CONN)
    assert h.flush() == ([], None)
    assert h.state is S.BOUND
    assert h.table.snapshot()["workers"] == {W2: 1}


def binding_rebind_deadline(_: Harness) -> None:
    h = reach("BINDING", rebind=True)
    h.send(n=1)
    actions = h.expire(h.now + SETTINGS.bind_timeout)
    assert h.counters["bind_timeout"] == h.counters["pending_dropped"] == 1
    _unbound(h, actions, module.BIND_TIMEOUT)
    assert h.bind() == Release(W1, CONN)  # the first taker, too late: released


def flushing_rebind_lost(_: Harness) -> None:
    for lose in ("gone", "silence"):
        h = reach("FLUSHING", rebind=True)
        actions = h.table.gone(W1) if lose == "gone" else h.lose_heartbeats()
        assert h.counters["pending_dropped"] == h.counters["worker_lost"] == 1
        reason = module.WORKER_GONE if lose == "gone" else module.WORKER_SILENT
        _unbound(h, actions, reason)


def bound_rebind_lost(_: Harness) -> None:
    for lose in ("gone", "silence"):
        h = reach("BOUND", rebind=True)
        actions = h.table.gone(W1) if lose == "gone" else h.lose_heartbeats()
        reason = module.WORKER_GONE if lose == "gone" else module.WORKER_SILENT
        _unbound(h, actions, reason)


TRANSITIONS: dict[tuple[str, str], Callable[[Harness], None]] = {
    ("(none)", "event"): none_event,
    ("(none)", "bind"): lambda h: _late_bind(h, None),
    ("NEW", "event"): new_event,
    ("NEW", "event, last=True"): new_event_last,
    ("NEW", "first send failed"): new_first_send_failed,
    ("NEW, DETACHED", "close"): new_or_detached_close,
    ("BINDING", "event"): binding_event,
    ("BINDING", "first send failed"): binding_first_send_failed,
    ("BINDING", "bind"): binding_bind,
    ("BINDING", "close"): binding_close,
    ("BINDING", "bind deadline"): binding_deadline,
    ("BINDING_CLOSED", "bind"): binding_closed_bind,
    ("BINDING_CLOSED", "bind deadline"): binding_closed_deadline,
    ("FLUSHING", "event"): flushing_event,
    ("FLUSHING", "buffer empty"): flushing_empty,
    ("FLUSHING", "close"): flushing_close,
    ("FLUSHING", "worker lost"): flushing_lost,
    ("FLUSHING_CLOSED", "buffer empty"): flushing_closed_empty,
    ("FLUSHING_CLOSED", "worker lost"): flushing_closed_lost,
    ("BOUND", "event"): bound_event,
    ("BOUND", "close"): bound_close,
    ("BOUND", "worker lost"): bound_lost,
    ("DETACHED", "event"): detached_event,
    ("ABORTED", "event"): aborted_event,
    ("ABORTED", "close"): aborted_close,
    ("any other", "bind"): any_other_bind,
    ("BINDING+rebind", "bind deadline"): binding_rebind_deadline,
    ("FLUSHING+rebind", "worker lost"): flushing_rebind_lost,
    ("BOUND+rebind", "worker lost"): bound_rebind_lost,
}


def test_every_documented_transition_is_tested() -> None:
    documented = {(state, event) for state, event, _, _ in _documented_rows()}
    assert documented == set(TRANSITIONS)


@pytest.mark.parametrize(
    "row", _documented_rows(), ids=lambda r: f"{r[0]} + {r[1]} -> {r[2]}".replace(" ", "_")
)
def test_transition(row: tuple[str, str, str, str]) -> None:
    state, event, _, _ = row
    start = state.split(",")[0].split("+")[0] if state not in ("(none)", "any other") else "(none)"
    TRANSITIONS[(state, event)](reach(start))


# -- outside the table: heartbeats, acks, refused releases, deadlines ------------------


def test_a_heartbeat_is_acked_with_the_count_and_refused_releases() -> None:
    h = reach("BOUND")
    h.table.release_refused(W1, "srv.aaaaaa.bbbbbbbbbbbb!probe.old")
    ack = h.table.heartbeat(W1, 1.0, h.now)
    assert ack.worker == W1
    assert ack.message == {
        "type": control.ACK,
        "host": SERVER,
        "release": ["srv.aaaaaa.bbbbbbbbbbbb!probe.old"],
        "bound": 1,
    }
    # Unknown workers are answered too (they learn the server is alive).
    ack = h.table.heartbeat(W2, 1.0, h.now)
    assert (ack.message["bound"], ack.message["release"]) == (0, [])


def test_a_refused_ack_keeps_its_releases_for_the_next_one() -> None:
    h = reach("BOUND")
    h.table.close(CONN)
    h.table.release_refused(W1, CONN)
    ack = h.table.heartbeat(W1, 1.0, h.now)
    assert h.table.snapshot()["workers"] == {}  # idle and nothing owed: forgotten
    h.table.ack_refused(ack, h.now)
    assert h.table.heartbeat(W1, 1.0, h.now).message["release"] == [CONN]


def test_a_released_idle_worker_is_forgotten() -> None:
    h = reach("BOUND")
    assert h.table.close(CONN) == Release(W1, CONN)
    h.table.release_sent(W1)
    assert h.table.snapshot()["workers"] == {}


def test_heartbeats_move_the_limit_and_a_shorter_interval_brings_it_closer() -> None:
    h = reach("BOUND")
    h.expire(h.now + LIMIT - 0.5)
    h.table.heartbeat(W1, 1.0, h.now)
    assert h.expire(h.now + LIMIT - 0.01) == []  # alive: measured from the heartbeat
    h.table.heartbeat(W1, 1.0, h.now)
    h.expire(h.now)
    assert h.table.deadline == h.now + LIMIT
    h.table.heartbeat(W1, 0.1, h.now)
    assert h.table.deadline == pytest.approx(h.now + 0.1 * SETTINGS.heartbeat_misses)
    assert [type(a) for a in h.expire(h.now + 0.31)] == [Abort]


def test_a_known_idle_worker_taking_a_connection_is_watched_at_once() -> None:
    h = reach("BOUND")
    h.table.close(CONN)
    h.table.release_refused(W1, CONN)  # W1 stays known with no connection
    other = SERVER + "probe.2"
    h.table.open(other)
    h.table.event(other, "probe.connect", {}, False, h.clock)
    h.expire(h.now)
    assert h.table.deadline == h.now + SETTINGS.bind_timeout
    h.table.bind(other, W1, 1.0, h.now)
    assert h.table.deadline == h.now + LIMIT


def test_the_deadline_is_recomputed_by_expire_only() -> None:
    h = reach("BINDING")
    first = h.table.deadline
    assert h.bind() == Flush(CONN)  # the bind deadline is gone, the worker's limit set
    assert h.table.deadline == min(first, h.now + LIMIT)
    h.flush()
    actions, nearest = h.table.expire(h.now + 1)
    assert (actions, nearest) == ([], h.now + LIMIT)


def test_a_failed_bound_send_does_not_use_up_an_order() -> None:
    h = reach("BOUND")
    h.send(n=1)
    h.table.event_failed(CONN)
    assert (h.send(n=2) or ("", {}))[1]["message"]["order"] == 1


def test_the_snapshot_labels_states_as_status_always_did() -> None:
    labels = {}
    for state in S:
        h = reach(state.name)
        labels[state.name] = h.table.snapshot()["connections"]
    assert labels == {
        "NEW": {"new": 1},
        "BINDING": {"binding": 1},
        "BINDING_CLOSED": {"closing": 1},
        "FLUSHING": {"binding": 1},
        "FLUSHING_CLOSED": {"closing": 1},
        "BOUND": {"bound": 1},
        "DETACHED": {"detached": 1},
        "ABORTED": {"aborted": 1},
    }


def test_malformed_late_binds_never_create_worker_state() -> None:
    h = Harness()
    assert h.table.bind("srv.x.y!nobody", W1, 1.0, h.now) == Release(W1, "srv.x.y!nobody")
    assert h.table.snapshot() == {"connections": {}, "workers": {}}


# -- every order of bind, first event, heartbeat loss and close ------------------------

STEPS = ("first_event", "bind", "heartbeat_loss", "close")


@pytest.mark.parametrize("order", list(itertools.permutations(STEPS)), ids="-".join)
def test_every_order_of_bind_first_event_heartbeat_loss_and_close(order: tuple[str, ...]) -> None:
    """Whatever the order: no connection is left waiting, an accepted bind is released
    exactly once, a late bind is answered with a release, ABORT only reaches an open
    connection and at most once, and no event reaches a worker after its release."""
    h = Harness()
    h.table.open(CONN)
    releases: list[Release] = []
    aborts: list[Abort] = []
    inbox: list[int] = []
    accepted = closed = False

    def perform(actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Release):
                releases.append(action)
            elif isinstance(action, Abort):
                assert not closed
                aborts.append(action)

    for step in order:
        h.now += 0.1
        if step == "first_event":
            h.send("probe.connect")
            h.send("probe.data", n=1)
        elif step == "bind":
            result = h.bind()
            if isinstance(result, Flush):
                accepted = True
                sent, release = h.flush()
                inbox.extend(m["message"]["order"] for _, m in sent)
                perform([release] if release else [])
            else:
                assert result == Release(W1, CONN)
                releases.append(result)
        elif step == "heartbeat_loss":
            perform(h.lose_heartbeats())
        else:
            closed = True
            perform([r] if (r := h.table.close(CONN)) else [])
        assert not (releases and h.state is S.BOUND), "bound after its release"
    perform(h.expire(h.now + SETTINGS.bind_timeout + LIMIT))
    if not closed:
        perform([r] if (r := h.table.close(CONN)) else [])
    assert h.state is None
    assert len(aborts) <= 1
    # The bind was accepted (released at the close) or late (released at once).
    assert releases == [Release(W1, CONN)]
    assert inbox == ([1] if accepted else [])


# -- random interleavings ---------------------------------------------------------------


class ServerTableMachine(RuleBasedStateMachine):
    """Several connections, two workers, sends that fail, flushes that interleave with
    everything, and time. The driver's contract is kept: ``expire`` runs whenever the
    clock passes ``deadline``."""

    connections = Bundle("connections")

    @initialize()
    def setup(self) -> None:
        self.counters: Counter[str] = Counter()
        self.table = ServerTable(SERVER, SETTINGS, self.counters)
        self.now = 0.0
        self.serial = 0
        self.delivered: dict[str, list[int]] = {}  # orders that left, in order
        self.to_inbox: dict[str, str] = {}  # worker that got events of the connection
        self.first_at: dict[str, float] = {}
        self.last_seen: dict[str, float] = {W1: -1e9, W2: -1e9}
        self.accepted: dict[str, str] = {}  # connection -> worker whose bind won
        self.released: dict[str, list[str]] = {}
        self.closed: set[str] = set()
        self.aborted: set[str] = set()
        self.forgotten: set[str] = set()  # closed, then its worker was lost: no release
        self.buffered = self.flushed = 0
        self.opened: list[str] = []
        self.conversations: set[str] = set()  # opened with rebind=True
        self.unbound = 0

    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Abort):
                assert action.connection not in self.conversations, "a conversation aborted"
                assert action.connection not in self.closed, "ABORT after close"
                assert action.connection not in self.aborted, "second ABORT"
                self.aborted.add(action.connection)
            elif isinstance(action, Release):
                self._release(action)
            elif isinstance(action, Unbind):
                conn = action.connection
                assert conn in self.conversations, "only conversations are unbound"
                assert conn not in self.closed, "unbound after close"
                assert self.table.state(conn) is S.NEW
                # A new binding: its orders start again from 0, any worker may win it.
                self.delivered.pop(conn, None)
                self.accepted.pop(conn, None)
                self.to_inbox.pop(conn, None)
                self.unbound += 1
            else:
                assert isinstance(action, Forget)
                assert action.connection in self.closed
                self.forgotten.add(action.connection)

    def _release(self, release: Release) -> None:
        self.released.setdefault(release.connection, []).append(release.worker)

    def _deliver(self, conn: str, send: Send) -> None:
        channel, message = send
        if message.get("type") == control.EVENT:
            worker = channel.removesuffix("inbox")
            assert worker not in self.released.get(conn, []), "event after its release"
            self.to_inbox[conn] = worker
            message = message["message"]
        if "order" in message:
            self.delivered.setdefault(conn, []).append(message["order"])

    def clock(self) -> float:
        return self.now

    @rule(target=connections)
    def open(self) -> str:
        self.serial += 1
        conn = f"{SERVER}probe.{self.serial}"
        self.table.open(conn)
        self.opened.append(conn)
        return conn

    @rule(target=connections)
    def open_conversation(self) -> str:
        self.serial += 1
        conn = f"{SERVER}probe.{self.serial}"
        self.table.open(conn, rebind=True)
        self.opened.append(conn)
        self.conversations.add(conn)
        return conn

    @rule(conn=connections, last=st.booleans(), fails=st.booleans())
    def send(self, conn: str, last: bool, fails: bool) -> None:
        before = self.table.state(conn)
        try:
            send = self.table.event(conn, "probe.data", {"type": "probe.data"}, last, self.clock)
        except ChannelFull:
            return
        if before is S.NEW and self.table.state(conn) is S.BINDING:
            self.first_at[conn] = self.now
        if send is None:
            if before in (S.BINDING, S.FLUSHING):
                self.buffered += 1
            return
        if fails:
            self.table.event_failed(conn)
            if self.table.state(conn) is S.NEW:
                self.first_at.pop(conn, None)
            return
        self._deliver(conn, send)

    @rule(conn=connections, worker=st.sampled_from([W1, W2]))
    def bind(self, conn: str, worker: str) -> None:
        result = self.table.bind(conn, worker, SETTINGS.heartbeat_interval, self.now)
        if isinstance(result, Flush):
            assert conn not in self.accepted, "a second bind accepted"
            self.accepted[conn] = worker
            self.last_seen[worker] = self.now
        else:  # a late bind, answered at once: not the release of a bound connection
            assert result == Release(worker, conn)

    @rule(conn=connections)
    def flush_one(self, conn: str) -> None:
        if self.table.state(conn) not in (S.FLUSHING, S.FLUSHING_CLOSED):
            return
        send = self.table.next_pending(conn)
        if send is not None:
            self.flushed += 1
            self._deliver(conn, send)
        elif (release := self.table.flushed(conn)) is not None:
            self._release(release)

    @rule(conn=connections)
    def flush_all(self, conn: str) -> None:
        """The common case: the flush ends before anything else happens."""
        while self.table.state(conn) in (S.FLUSHING, S.FLUSHING_CLOSED):
            self.flush_one(conn)

    @rule(conn=consumes(connections))
    def close(self, conn: str) -> None:
        self.closed.add(conn)
        if (release := self.table.close(conn)) is not None:
            self._release(release)

    @rule(worker=st.sampled_from([W1, W2]), refused=st.booleans())
    def heartbeat(self, worker: str, refused: bool) -> None:
        ack = self.table.heartbeat(worker, SETTINGS.heartbeat_interval, self.now)
        self.last_seen[worker] = self.now
        if refused:
            self.table.ack_refused(ack, self.now)

    @rule(worker=st.sampled_from([W1, W2]))
    def gone(self, worker: str) -> None:
        self._perform(self.table.gone(worker))

    @rule(dt=st.sampled_from([0.01, 0.5, 1.5, 4.0, 11.0]))
    def advance(self, dt: float) -> None:
        target = self.now + dt
        while self.table.deadline <= target:
            self.now = max(self.now, self.table.deadline)
            actions, _ = self.table.expire(self.now)
            self._perform(actions)
        self.now = target

    @invariant()
    def nothing_waits_past_its_deadline(self) -> None:
        if not hasattr(self, "table"):
            return
        for conn, since in self.first_at.items():
            if self.table.state(conn) in (S.BINDING, S.BINDING_CLOSED):
                assert since + SETTINGS.bind_timeout > self.now, f"{conn} missed its bind deadline"
        for conn, worker in self.accepted.items():
            if self.table.state(conn) in (S.BOUND, S.FLUSHING, S.FLUSHING_CLOSED):
                assert self.last_seen[worker] + LIMIT > self.now, f"{conn}: silent worker kept"

    @invariant()
    def orders_leave_in_order_without_gaps(self) -> None:
        if not hasattr(self, "table"):
            return
        for conn, orders in self.delivered.items():
            assert orders == list(range(len(orders))), (conn, orders)

    @invariant()
    def events_go_to_the_worker_that_won(self) -> None:
        if not hasattr(self, "table"):
            return
        for conn, worker in self.to_inbox.items():
            assert self.accepted[conn] == worker

    @invariant()
    def releases_go_once_to_the_bound_worker(self) -> None:
        if not hasattr(self, "table"):
            return
        for conn, workers in self.released.items():
            winner = self.accepted.get(conn)
            assert workers.count(winner) <= 1 if winner else True, (conn, workers)

    def teardown(self) -> None:
        if not hasattr(self, "table"):
            return
        for conn in self.opened:  # finish every flush, close everything
            while self.table.state(conn) in (S.FLUSHING, S.FLUSHING_CLOSED):
                self.flush_one(conn)
        for conn in self.opened:
            if conn not in self.closed:
                self.close(conn)
        self.advance(SETTINGS.bind_timeout + LIMIT + 1)
        # Every buffered event left or was counted dropped; nothing is left behind.
        assert self.buffered == self.flushed + self.counters["pending_dropped"]
        assert self.table.snapshot()["connections"] == {}
        for conn, worker in self.accepted.items():
            expected = 0 if conn in self.forgotten else 1
            assert self.released.get(conn, []).count(worker) == expected, (conn, worker)


ServerTableMachine.TestCase.settings = hypothesis_settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
test_server_table_interleavings = ServerTableMachine.TestCase


def test_ack_is_the_only_thing_a_heartbeat_returns() -> None:
    h = reach("BOUND")
    assert isinstance(h.table.heartbeat(W1, None, h.now), Ack)


def test_docs_runtime_md_shows_this_transition_table() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "runtime.md").read_text()
    shown = markdown_table(docs, "The interface server's table")
    assert shown == [list(row) for row in _documented_rows()]
