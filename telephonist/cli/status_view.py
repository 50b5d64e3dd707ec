"""``telephonist status`` as text: one block for the layer, one per process part.

Why the layer's drop counters are summed from the processes' own answers: a layer
object counts what *it* refused or lost, so the command's own fresh layer object
(used to ask over Redis) has counted nothing, while each running process has its own
counts. Every part carries its process's layer counters (``"layer"``); parts of one
process (all-in-one) share them, so they are counted once per ``(hostname, pid)``.
That sum is the one source of the ``dropped`` line, in text and JSON alike.

A backend that cannot list its queues (Redis: that would be a scan of the keyspace)
says so: ``not reported by this backend``, never ``none``, which would read as zero.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NOT_REPORTED", "merge_layer", "render"]

NOT_REPORTED = "not reported by this backend"


def _counts(values: Any) -> str:
    if values is not None and not isinstance(values, dict):
        return str(values)  # not the shape a process sends: shown as it is
    items = [f"{k}={v}" for k, v in sorted((values or {}).items(), key=lambda kv: str(kv[0]))]
    return " ".join(items) or "none"


def _per_process(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for part in parts:
        layer = part.get("layer")
        if isinstance(layer, dict):
            seen.setdefault((str(part.get("hostname")), str(part.get("pid"))), layer)
    return list(seen.values())


def _sum(counters: list[dict[str, Any]], key: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for layer in counters:
        found = layer.get(key)
        for name, n in found.items() if isinstance(found, dict) else ():
            if isinstance(n, int) and not isinstance(n, bool):
                total[str(name)] = total.get(str(name), 0) + n
    return total


def merge_layer(layer: dict[str, Any] | None, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The layer block: settings from ``layer``, counters summed over the processes."""
    merged = dict(layer or {})
    merged.pop("timings", None)  # the asking layer object's own: it timed nothing
    counters = _per_process(parts)
    merged["dropped"] = _sum(counters, "dropped")
    merged["traffic"] = _sum(counters, "traffic")
    merged["processes_counted"] = len(counters)
    merged.setdefault("depths", None)
    merged.setdefault("groups", None)
    return merged


def _ms(seconds: Any) -> str:
    return f"{float(seconds) * 1000:.2f}ms"


def _timing(name: str, snap: dict[str, Any]) -> str:
    count = snap.get("count", 0)
    mean = snap.get("sum", 0.0) / count if count else 0.0
    return (
        f"{name}: n={count} mean {_ms(mean)} p50<={_ms(snap.get('p50', 0))} "
        f"p99<={_ms(snap.get('p99', 0))} max {_ms(snap.get('max', 0))}"
    )


def _flat(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        if not value:
            return [(path, "none")] if path else []
        out: list[tuple[str, str]] = []
        for key, inner in value.items():
            out += _flat(inner, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(value, list):
        return [(path, ", ".join(map(str, value)) or "none")]
    return [(path, str(value))]


def _layer_lines(layer: dict[str, Any]) -> list[str]:
    lines = [
        f"layer {layer.get('backend')}: capacity {layer.get('capacity')}, "
        f"expiry {layer.get('expiry')}s"
    ]
    depths, groups = layer.get("depths"), layer.get("groups")
    lines.append(f"  queue depths: {NOT_REPORTED if depths is None else _counts(depths)}")
    lines.append(f"  group sizes:  {NOT_REPORTED if groups is None else _counts(groups)}")
    n = layer.get("processes_counted", 0)
    processes = "1 process" if n == 1 else f"{n} processes"
    lines.append(f"  dropped:      {_counts(layer.get('dropped'))}  (summed over {processes})")
    lines.append(f"  messages:     {_counts(layer.get('traffic'))}")
    return lines


def _process_layer(part: dict[str, Any]) -> list[str]:
    layer = part.get("layer") or {}
    lines = [
        f"  layer (this process): {_counts(layer.get('traffic'))}; "
        f"dropped {_counts(layer.get('dropped'))}"
    ]
    for name, snap in sorted((layer.get("timings") or {}).items()):
        lines.append(f"    {_timing(name, snap)}")
    return lines


def _server(part: dict[str, Any]) -> list[str]:
    lines = []
    for name, info in part.get("interfaces", {}).items():
        where = ", ".join(info.get("endpoints", [])) or "-"
        lines.append(f"  {name}: {info.get('connections')} connections on {where}")
        lines.append(f"    counters: {_counts(info.get('counters'))}")
        status = _flat(info.get("status") or {})
        if status:
            lines.append("    status:")
            lines += [f"      {key}: {value}" for key, value in status]
    lines.append(f"  counters: {_counts(part.get('counters'))}")
    affinity = part.get("affinity", {})
    lines.append(f"  connections: {_counts(affinity.get('connections'))}")
    lines.append(f"  bound to workers: {_counts(affinity.get('workers'))}")
    return lines


def _worker(part: dict[str, Any]) -> list[str]:
    lines = [f"  channels: {', '.join(part.get('channels', []))}"]
    affinity = part.get("affinity", {})
    lines.append(f"  connections: {affinity.get('connections', 0)}, busy {affinity.get('busy', 0)}")
    dispatch = part.get("dispatch", {})
    lines.append(f"  outcomes: {_counts(dispatch.get('outcomes'))}")
    lines.append(f"  dropped:  {_counts(dispatch.get('dropped'))}")
    lines.append(f"  counters: {_counts(part.get('counters'))}")
    timings = dispatch.get("timings") or {}
    lines.append("  consumer timings:" if timings else "  consumer timings: none yet")
    lines += [f"    {_timing(route, snap)}" for route, snap in sorted(timings.items())]
    for name, counts in sorted((dispatch.get("consumers") or {}).items()):
        lines.append(f"  {name}: {_counts(counts)}")
    return lines


def _part(part: dict[str, Any]) -> list[str]:
    head = f"{part.get('kind')} {part.get('id')} (pid {part.get('pid')} on {part.get('hostname')}"
    lines = [f"{head}, up {part.get('uptime')}s)"]
    lines += _server(part) if part.get("kind") == "host" else _worker(part)
    return lines + _process_layer(part)


def render(parts: list[dict[str, Any]], layer: dict[str, Any] | None) -> str:
    """The text output (``parts`` and ``layer`` already made printable)."""
    lines = _layer_lines(layer) if layer else []
    if not parts:
        lines.append("no running process answered")
    for part in parts:
        try:
            lines += _part(part)
        except (AttributeError, TypeError, ValueError):  # not the shape a process sends
            lines.append(f"(an answer that is not a status document: {str(part)[:200]})")
    return "\n".join(lines)
