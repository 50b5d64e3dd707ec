"""The ``telephonist`` command as a user runs it: real processes, real sockets."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

import pytest

from .conftest import TIMEOUT, ChatClient, Project, Spawn, run_cli

COMMANDS = ["run", "serve", "worker", "interfaces", "status"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_is_complete(project: Project, command: str) -> None:
    done = run_cli(project, command, "--help")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "examples:" in out
    assert f"telephonist {command}" in out
    for option in ("--config", "--set", "--log-format", "--log-level"):
        assert option in out
    if command == "worker":
        assert "--only" in out
        assert "--exclude" in out


def test_top_level_help_lists_every_command(project: Project) -> None:
    done = run_cli(project, "--help")
    assert done.returncode == 0
    for command in COMMANDS:
        assert command in done.stdout


def test_run_serves_the_out_of_tree_protocol_to_a_routed_consumer(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("run").ready()
    client = clients(proc.endpoint())
    assert client.line().startswith("welcome guest1 pid=")
    client.send("hello")
    assert client.line() == "0 guest1: hello"
    client.send("/nick ada")
    client.send("!loud")  # routed by a filter to a sync consumer
    assert client.line() == "!LOUD"
    client.send("again")
    assert client.line() == "1 ada: again"
    client.send("bye")
    assert client.line() == "see you"
    assert client.line() == ""  # the server closed the connection


def test_a_consumer_exception_does_not_stop_the_worker(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("run").ready()
    client = clients(proc.endpoint())
    client.line()
    client.send("boom")
    client.send("after")
    assert client.line() == "0 guest1: after"
    assert "consumer exploded on purpose" in proc.stderr()
    assert "linechat.message" in proc.stderr()  # the log names the message type


def test_start_up_prints_each_interface_and_where_it_listens(spawn: Spawn) -> None:
    proc = spawn("run").ready()
    assert proc.endpoint() > 0
    assert any(line.startswith("worker worker.") for line in proc.seen)


def test_config_error_names_the_key_and_the_value(project: Project) -> None:
    done = run_cli(project, "run", "-s", "interfaces.linechat.port=abc")
    assert done.returncode == 2
    assert "interfaces.linechat.port: Input should be a valid integer (got 'abc')" in done.stderr


def test_environment_variables_configure_nested_keys(project: Project) -> None:
    done = run_cli(project, "serve", env={"TELEPHONIST_INTERFACES__LINECHAT__MAX_LINE_BYTES": "2"})
    assert done.returncode == 2
    assert (
        "interfaces.linechat.max_line_bytes: Input should be greater than or equal to 16 (got 2)"
        in done.stderr
    )


def test_unknown_interface_and_bad_routing_are_reported(project: Project) -> None:
    done = run_cli(project, "serve", "-s", "interfaces.nosuch.port=1")
    assert done.returncode == 2
    assert "interfaces.nosuch: no interface of that name is installed" in done.stderr
    done = run_cli(project, "worker", "--routing", "chatapp.missing")
    assert done.returncode == 2
    assert "chatapp.missing" in done.stderr


def test_sigterm_drains_work_in_flight_then_says_goodbye(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("run").ready()
    client = clients(proc.endpoint())
    client.line()
    client.send("slow one")
    proc.wait_for("^slow consumer started$")
    proc.signal(signal.SIGTERM)
    assert client.line() == "done slow one"  # the drain let the reply through
    assert client.line() == "* server shutting down, goodbye"
    assert client.line() == ""
    assert proc.wait() == 0
    proc.wait_for("^telephonist: stopped$")


def test_the_drain_is_bounded(
    project: Project, spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("run", "-s", "server.drain_timeout=0.2").ready()
    client = clients(proc.endpoint())
    client.line()
    client.send("slow but too slow")
    proc.wait_for("^slow consumer started$")
    proc.signal(signal.SIGTERM)
    # The goodbye comes at the drain bound, before the consumer's reply would have.
    assert client.line() == "* server shutting down, goodbye"
    assert proc.wait(TIMEOUT) == 0


def test_a_sync_consumer_that_never_returns_does_not_hold_the_process(
    spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("run", "-s", "server.drain_timeout=0.2", "-s", "worker.drain_timeout=0.2").ready()
    client = clients(proc.endpoint())
    client.line()
    client.send("stuck")
    proc.wait_for("^stuck consumer started$")
    proc.signal(signal.SIGTERM)
    assert proc.wait(TIMEOUT) == 0  # well before the consumer's 60 s
    assert "1 sync consumers still running after the drain: exiting anyway" in proc.stderr()


def test_json_logs_on_request(spawn: Spawn) -> None:
    proc = spawn("run", "--log-format", "json", "--log-level", "DEBUG").ready()
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0
    records = [json.loads(line) for line in proc.stderr().splitlines() if line.strip()]
    assert records, "expected log lines"
    assert {"ts", "level", "logger", "message"} <= set(records[0])
    assert any("serving on" in r["message"] for r in records)


def test_interfaces_lists_plugins_with_keys_types_and_defaults(project: Project) -> None:
    done = run_cli(project, "interfaces")
    assert done.returncode == 0
    assert (
        "linechat  (telephonist-linechat 0.1.0: telephonist_linechat:LineChatInterface)"
        in done.stdout
    )
    section = done.stdout.split("linechat  (", 1)[1].split("\n\n", 1)[0]
    assert "port" in section
    assert "int" in section
    assert "default 7000" in section
    assert "events: linechat.connect, linechat.message, linechat.disconnect" in section
    data = json.loads(run_cli(project, "interfaces", "--json").stdout)
    keys = {row["key"]: row for row in data["linechat"]["options"]}
    assert keys["max_line_bytes"]["default"] == "1024"


def test_interfaces_shows_this_configuration_s_values_beside_the_defaults(
    project: Project,
) -> None:
    done = run_cli(project, "interfaces", "-s", "interfaces.linechat.max_line_bytes=64")
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("linechat  (", 1)[1].split("\n\n", 1)[0]
    assert "in this configuration: enabled, 2 key(s) set away from the default" in section
    line = next(x for x in section.splitlines() if x.strip().startswith("max_line_bytes"))
    assert "default 1024" in line
    assert "set 64" in line
    port = next(x for x in section.splitlines() if x.strip().startswith("port "))
    assert "set 0" in port
    data = json.loads(
        run_cli(project, "interfaces", "--json", "-s", "interfaces.linechat.enabled=false").stdout
    )
    configured = data["linechat"]["configured"]
    assert configured["state"] == "disabled"
    assert configured["values"]["enabled"] == "false"
    assert configured["values"]["port"] == "0"


def test_interfaces_names_an_invalid_configuration_and_still_lists_the_keys(
    project: Project,
) -> None:
    done = run_cli(project, "interfaces", "-s", "interfaces.linechat.max_line_bytes=2")
    section = done.stdout.split("linechat  (", 1)[1].split("\n\n", 1)[0]
    assert "in this configuration: invalid" in section
    assert "interfaces.linechat.max_line_bytes: Input should be greater than or equal to 16" in (
        section
    )
    assert "default 1024" in section


def test_status_shows_live_connections_and_counters(
    project: Project, spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("run").ready()
    client = clients(proc.endpoint())
    client.line()
    client.send("hi")
    client.line()
    done = run_cli(project, "status", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    kinds = {p["kind"]: p for p in data["processes"]}
    assert kinds["host"]["interfaces"]["linechat"]["connections"] == 1
    assert kinds["host"]["affinity"]["connections"] == {"bound": 1}
    assert kinds["worker"]["affinity"]["connections"] == 1
    assert kinds["worker"]["dispatch"]["outcomes"]["consumed"] == 2
    assert "dropped" in data["layer"]
    text = run_cli(project, "status").stdout
    assert "linechat: 1 connections on tcp://127.0.0.1:" in text
    assert "queue depths:" in text
    assert "group sizes:" in text


def test_status_without_running_processes_says_so(project: Project) -> None:
    done = run_cli(project, "status")
    assert done.returncode == 1
    assert "no running process answered" in done.stdout


def test_status_watch_redraws_and_shows_consumer_timings(
    project: Project, spawn: Spawn, clients: Callable[[int], ChatClient]
) -> None:
    proc = spawn("run").ready()
    client = clients(proc.endpoint())
    client.line()
    client.send("hi")
    client.line()
    done = run_cli(project, "status", "--watch", "0.2", "--iterations", "2")
    assert done.returncode == 0, done.stderr
    heads = [ln for ln in done.stdout.splitlines() if ln.startswith("telephonist status, every")]
    assert len(heads) == 2
    # The in-memory layer lists its queues: "none" is a real zero here.
    assert "  queue depths: none" in done.stdout
    assert "  consumer timings:" in done.stdout
    assert "    route('linechat.message', chatapp.chat" in done.stdout
    watched = run_cli(project, "status", "--json", "--watch", "0.2", "--iterations", "2")
    documents = [json.loads(line) for line in watched.stdout.splitlines()]
    assert len(documents) == 2
    assert documents[0]["layer"]["depths"] == {}
