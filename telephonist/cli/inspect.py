"""``telephonist interfaces`` and ``telephonist status``: what is installed, what runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..config import TelephonistConfig
from ..core.memory import InMemoryChannelLayer
from ..interfaces.plugins import describe_options, discover
from ..runtime import build_layer
from ..runtime.status import default_socket_dir, layer_status, query_layer, query_sockets
from ._common import EXIT_CONFIG, EXIT_FAILURE, add_common, config_from_args, fail

__all__ = ["add_interfaces", "add_status"]

_INTERFACES_EPILOG = """\
Lists every plugin of the `telephonist.interfaces` entry-point group, with each
configuration key, its type and default. A plugin that fails to load is listed with
the reason; the others are still shown.

examples:
  telephonist interfaces
  telephonist interfaces --json
"""

_STATUS_EPILOG = """\
Asks every running process for its status: over the layer (split deployments, any
machine) unless the layer is the in-memory one, and through the per-process status
sockets of this machine (`status.socket_dir`). Shows queue depths and group sizes
where the layer can report them, live connections per interface, messages dropped
by reason, and connection affinity.

examples:
  telephonist status
  telephonist status --json
  TELEPHONIST_LAYER__BACKEND=redis telephonist status -s status.timeout=3
"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _interfaces(args: argparse.Namespace) -> int:
    if config_from_args(args) is None:
        return EXIT_CONFIG
    plugins = discover()
    if args.json:
        doc = {}
        for name, plugin in plugins.items():
            entry: dict[str, Any] = {"target": plugin.target, "distribution": plugin.distribution}
            if plugin.cls is None:
                entry["error"] = plugin.error
            else:
                entry["options"] = [
                    dict(zip(("key", "type", "default", "description"), row, strict=True))
                    for row in describe_options(plugin.cls.config_model)
                ]
                entry["event_channels"] = list(plugin.cls.event_channels)
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
        if plugin.cls.event_channels:
            print(f"  events: {', '.join(plugin.cls.event_channels)}")
        rows = describe_options(plugin.cls.config_model)
        key_w = max(len(r[0]) for r in rows)
        type_w = max(len(r[1]) for r in rows)
        for key, kind, default, description in rows:
            line = f"  {key:<{key_w}}  {kind:<{type_w}}  default {default}"
            print(f"{line}  {description}" if description else line)
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
    try:
        parts, layer = asyncio.run(_gather(config))
    except Exception as exc:
        return fail([f"could not reach the layer: {exc}"], EXIT_FAILURE)
    if args.json:
        # JSON escapes control characters itself (ensure_ascii).
        print(json.dumps({"layer": layer, "processes": parts}, indent=2, default=repr))
    else:
        print(_render(_printable_tree(parts), _printable_tree(layer)))
    return 0 if parts else EXIT_FAILURE


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


def _counts(values: dict[str, Any] | None) -> str:
    items = [f"{k}={v}" for k, v in sorted((values or {}).items())]
    return " ".join(items) or "none"


def _render(parts: list[dict[str, Any]], layer: dict[str, Any] | None) -> str:
    lines = []
    if layer:
        lines.append(f"layer {layer.get('backend')}: capacity {layer.get('capacity')}")
        lines.append(f"  queue depths: {_counts(layer.get('depths'))}")
        lines.append(f"  group sizes:  {_counts(layer.get('groups'))}")
        lines.append(f"  dropped:      {_counts(layer.get('dropped'))}")
    if not parts:
        lines.append("no running process answered")
    for part in parts:
        try:
            lines += _render_part(part)
        except (AttributeError, TypeError, ValueError):  # not the shape a process sends
            lines.append(f"(an answer that is not a status document: {str(part)[:200]})")
    return "\n".join(lines)


def _render_part(part: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    head = f"{part.get('kind')} {part.get('id')} (pid {part.get('pid')} on {part.get('hostname')}"
    lines.append(f"{head}, up {part.get('uptime')}s)")
    if part.get("kind") == "host":
        for name, info in part.get("interfaces", {}).items():
            where = ", ".join(info.get("endpoints", [])) or "-"
            lines.append(f"  {name}: {info.get('connections')} connections on {where}")
            lines.append(f"    counters: {_counts(info.get('counters'))}")
        lines.append(f"  dropped/counters: {_counts(part.get('counters'))}")
        affinity = part.get("affinity", {})
        lines.append(f"  connections: {_counts(affinity.get('connections'))}")
        lines.append(f"  bound to workers: {_counts(affinity.get('workers'))}")
    else:
        lines.append(f"  channels: {', '.join(part.get('channels', []))}")
        affinity = part.get("affinity", {})
        lines.append(
            f"  connections: {affinity.get('connections', 0)}, busy {affinity.get('busy', 0)}"
        )
        dispatch = part.get("dispatch", {})
        lines.append(f"  outcomes: {_counts(dispatch.get('outcomes'))}")
        lines.append(f"  dropped:  {_counts(dispatch.get('dropped'))}")
        lines.append(f"  counters: {_counts(part.get('counters'))}")
    return lines


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
    add_common(parser)
    parser.set_defaults(handler=_status)
