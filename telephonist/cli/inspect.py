"""``telephonist interfaces`` and ``telephonist status``: what is installed, what runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from ..config import ConfigError, TelephonistConfig
from ..config.describe import configured_values, format_options
from ..core.memory import InMemoryChannelLayer
from ..interfaces.plugins import InterfacePlugin, configure, discover, options_of
from ..runtime import build_layer
from ..runtime.status import default_socket_dir, layer_status, query_layer, query_sockets
from ._common import EXIT_CONFIG, EXIT_FAILURE, add_common, config_from_args, fail
from .status_view import merge_layer, render

__all__ = ["add_interfaces", "add_status"]

_INTERFACES_EPILOG = """\
Lists every plugin of the `telephonist.interfaces` entry-point group, with each
configuration key, its type and default. A plugin that fails to load is listed with
the reason; the others are still shown. For each interface, the configuration this
command was given (telephonist.toml, TELEPHONIST_* variables, --set) is read too: the
interface is shown as enabled, disabled or not configured, and each key whose value
differs from its default shows `set <value>` (secrets masked).

examples:
  telephonist interfaces
  telephonist interfaces --json
  telephonist interfaces -s interfaces.irc.enabled=false
"""

_STATUS_EPILOG = """\
Asks every running process for its status: over the layer (split deployments, any
machine) unless the layer is the in-memory one, and through the per-process status
sockets of this machine (`status.socket_dir`). Shows queue depths and group sizes
where the layer can report them, live connections per interface, messages dropped
by reason, and connection affinity.

Interface servers are shown as `host`. A backend that cannot list its queues says
"not reported by this backend". Dropped messages are summed over the processes'
own layer counters.

examples:
  telephonist status
  telephonist status --json
  telephonist status --watch 2
  TELEPHONIST_LAYER__BACKEND=redis telephonist status -s status.timeout=3
"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _configured(
    plugin: InterfacePlugin, config: TelephonistConfig
) -> tuple[str, dict[str, str], list[str]]:
    """The interface's state in ``config`` ("enabled", "disabled", "not configured" or
    "invalid"), the value of each of its keys, and the problems when invalid."""
    if plugin.name not in config.interfaces:
        return "not configured", {}, []
    try:
        configured = configure(plugin, config.interfaces[plugin.name] or {})
    except ConfigError as exc:
        return "invalid", {}, list(exc.problems)
    state = "enabled" if configured.config.enabled else "disabled"
    return state, configured_values(configured.config), []


def _interfaces(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if config is None:
        return EXIT_CONFIG
    plugins = discover()
    if args.json:
        doc = {}
        for name, plugin in plugins.items():
            entry: dict[str, Any] = {"target": plugin.target, "distribution": plugin.distribution}
            if plugin.cls is None:
                entry["error"] = plugin.error
            else:
                state, values, problems = _configured(plugin, config)
                entry["options"] = [o.as_dict() for o in options_of(plugin.cls.config_model)]
                entry["event_channels"] = list(plugin.cls.event_channels)
                entry["configured"] = {"state": state, "values": values, "problems": problems}
            doc[name] = entry
        print(json.dumps(doc, indent=2))
        return 0
    if not plugins:
        print("no interface is installed (entry-point group telephonist.interfaces)")
    for name, plugin in plugins.items():
        print(f"{name}  ({plugin.distribution}: {plugin.target})")
        if plugin.cls is None:
            print(f"  BROKEN: {plugin.error}\n")
            continue
        state, values, problems = _configured(plugin, config)
        rows = options_of(plugin.cls.config_model)
        changed = sum(1 for r in rows if r.key in values and values[r.key] != r.default)
        if state in ("enabled", "disabled"):
            print(f"  in this configuration: {state}, {changed} key(s) set away from the default")
        else:
            print(f"  in this configuration: {state}")
        for problem in problems:
            print(f"    {printable(problem)}")
        if plugin.cls.event_channels:
            print(f"  events: {', '.join(plugin.cls.event_channels)}")
        print("\n".join(format_options(rows, values=values)))
        print()
    return 0


async def _gather(config: TelephonistConfig) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    within = config.status.timeout
    directory = Path(config.status.socket_dir) if config.status.socket_dir else default_socket_dir()
    documents = await query_sockets(directory, within)
    parts: dict[str, dict[str, Any]] = {}
    layers = []
    for doc in documents:
        layers.append(doc.get("layer"))
        found = doc.get("parts")
        for part in found if isinstance(found, list) else []:
            if isinstance(part, dict):
                parts[str(part.get("id"))] = part
    shared_layer = None
    layer = build_layer(config)
    if not isinstance(layer, InMemoryChannelLayer):
        try:
            # Bounded even if the layer's own reconnect budget is longer.
            for part in await asyncio.wait_for(query_layer(layer, within), within + 5):
                if isinstance(part, dict):
                    parts.setdefault(str(part.get("id")), part)
            shared_layer = layer_status(layer)
        except Exception as exc:
            print(f"telephonist: the layer did not answer: {exc!r}", file=sys.stderr)
        finally:
            await layer.close()
    elif layers:
        shared_layer = next((info for info in layers if info), None)
    return sorted(parts.values(), key=lambda p: (p.get("kind", ""), p.get("id", ""))), shared_layer


def _status(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if config is None:
        return EXIT_CONFIG
    if args.watch is not None:
        return _watch(config, args)
    try:
        parts, layer = asyncio.run(_gather(config))
    except Exception as exc:
        return fail([f"could not reach the layer: {exc}"], EXIT_FAILURE)
    print(_format(parts, layer, args.json))
    return 0 if parts else EXIT_FAILURE


def _format(parts: list[dict[str, Any]], layer: dict[str, Any] | None, as_json: bool) -> str:
    merged = merge_layer(layer, parts) if layer is not None else None
    if as_json:
        # JSON escapes control characters itself (ensure_ascii).
        return json.dumps({"layer": merged, "processes": parts}, indent=2, default=repr)
    return render(_printable_tree(parts), _printable_tree(merged))


def _watch(config: TelephonistConfig, args: argparse.Namespace) -> int:
    """Redraw the text (or print one JSON document a line) every ``--watch`` seconds,
    until Ctrl-C or ``--iterations`` refreshes. Plain ANSI (clear, home): the table is
    the same text as without ``--watch``, so no terminal library is needed."""
    interval = max(0.2, float(args.watch))
    shown = 0
    try:
        while args.iterations is None or shown < args.iterations:
            if shown:
                time.sleep(interval)
            try:
                parts, layer = asyncio.run(_gather(config))
                text = _format(parts, layer, args.json)
            except Exception as exc:
                text = f"could not reach the layer: {exc}"
            if args.json:
                print(text.replace("\n", ""), flush=True)
            else:
                stamp = time.strftime("%H:%M:%S")
                clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
                head = f"telephonist status, every {interval:g}s at {stamp} (Ctrl-C stops)"
                print(f"{clear}{head}\n{text}", flush=True)
            shown += 1
    except KeyboardInterrupt:
        pass
    return 0


# C0 and C1 controls, DEL, and the Unicode line separators and bidi overrides: what a
# process's answer could use to move the cursor, rewrite the screen or reorder text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", text)  # fmt: skip


def _printable_tree(value: Any) -> Any:
    """``value`` with every string in it (keys too) made :func:`printable`, so a line
    break or an escape sequence in an answer cannot make or rewrite lines."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(k)): _printable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable_tree(v) for v in value]
    return value


def add_interfaces(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "interfaces",
        help="list installed interfaces with their settings",
        description="List installed interfaces, their configuration keys, types and defaults.",
        epilog=_INTERFACES_EPILOG,
        formatter_class=_formatter,
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_common(parser)
    parser.set_defaults(handler=_interfaces)


def add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "status",
        help="ask running processes for their status",
        description="Show queue depths, group sizes, connections and dropped messages.",
        epilog=_STATUS_EPILOG,
        formatter_class=_formatter,
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--watch",
        nargs="?",
        const=2.0,
        type=float,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until Ctrl-C",
    )
    parser.add_argument(
        "--iterations", type=int, metavar="N", help="with --watch: stop after N refreshes"
    )
    add_common(parser)
    parser.set_defaults(handler=_status)
