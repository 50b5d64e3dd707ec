"""Socket Mode frames and Events API request bodies, parsed into one shape. No I/O.

Socket Mode (docs: using Socket Mode) sends JSON text frames: ``hello`` once a link is
up, ``disconnect`` with a ``reason`` when Slack wants the link replaced, and
*envelopes* ``{"envelope_id", "type", "payload", "accepts_response_payload",
"retry_attempt", "retry_reason"}`` of type ``events_api``, ``slash_commands`` or
``interactive``, each acknowledged by sending back ``{"envelope_id"}`` (plus
``"payload"`` where ``accepts_response_payload``). Over HTTP the same payloads arrive
as a JSON body (events), form fields (slash commands) or a form with one ``payload``
field holding JSON (interactivity), with retries numbered in headers.

Both transports end in an :class:`Inbound`: what happened, how it may be acknowledged,
and the key that de-duplicates it: the ``event_id`` for events (stable across retries
and transports), else the ``envelope_id`` (Socket Mode's only id for commands and
interactions). Over HTTP, commands and interactions have no id and are not retried by
Slack, so they need none. Anything malformed is a :class:`Malformed` with the reason,
never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

__all__ = [
    "Disconnect",
    "Hello",
    "Inbound",
    "Kind",
    "Malformed",
    "ack_frame",
    "from_http",
    "parse_frame",
]

Kind = Literal["event", "command", "interactive"]
_ENVELOPE_KINDS: dict[str, Kind] = {
    "events_api": "event",
    "slash_commands": "command",
    "interactive": "interactive",
}


@dataclass(frozen=True)
class Hello:
    num_connections: int | None
    app_id: str | None


@dataclass(frozen=True)
class Disconnect:
    reason: str


@dataclass(frozen=True)
class Malformed:
    reason: str


@dataclass(frozen=True)
class Inbound:
    kind: Kind
    payload: dict[str, Any]
    dedup_key: str | None
    envelope_id: str | None  # Socket Mode only
    accepts_ack_payload: bool
    retry_attempt: int
    retry_reason: str


def _inbound(
    kind: Kind, payload: dict[str, Any], envelope_id: str | None, accepts: bool, attempt: int,
    reason: str,
) -> Inbound | Malformed:  # fmt: skip
    key = None
    if kind == "event":
        if payload.get("type") == "event_callback":
            event_id = payload.get("event_id")
            if not isinstance(event_id, str) or not event_id:
                return Malformed("event_callback without an event_id")
            if not isinstance(payload.get("event"), dict):
                return Malformed("event_callback without an event")
            key = "event." + event_id
        elif payload.get("type") != "url_verification":
            return Malformed(f"unknown events payload type {payload.get('type')!r}")
    if key is None and envelope_id is not None:
        key = "envelope." + envelope_id
    return Inbound(kind, payload, key, envelope_id, accepts, attempt, reason)


def parse_frame(text: str | bytes) -> Hello | Disconnect | Inbound | Malformed:
    """One Socket Mode text frame."""
    try:
        frame = json.loads(text)
    except ValueError:
        return Malformed("not JSON")
    if not isinstance(frame, dict):
        return Malformed("not a JSON object")
    kind = frame.get("type")
    if kind == "hello":
        info = frame.get("connection_info")
        app_id = info.get("app_id") if isinstance(info, dict) else None
        count = frame.get("num_connections")
        return Hello(count if isinstance(count, int) else None,
                     app_id if isinstance(app_id, str) else None)  # fmt: skip
    if kind == "disconnect":
        reason = frame.get("reason")
        return Disconnect(reason if isinstance(reason, str) else "unknown")
    envelope_id = frame.get("envelope_id")
    if not isinstance(envelope_id, str) or not envelope_id:
        return Malformed(f"frame of type {kind!r} without an envelope_id")
    mapped = _ENVELOPE_KINDS.get(kind) if isinstance(kind, str) else None
    payload = frame.get("payload")
    if mapped is None:
        return Malformed(f"unknown envelope type {kind!r}")
    if not isinstance(payload, dict):
        return Malformed("envelope without a payload object")
    attempt = frame.get("retry_attempt")
    reason = frame.get("retry_reason")
    return _inbound(mapped, payload, envelope_id, frame.get("accepts_response_payload") is True,
                    attempt if isinstance(attempt, int) else 0,
                    reason if isinstance(reason, str) else "")  # fmt: skip


def ack_frame(envelope_id: str, payload: dict[str, Any] | None = None) -> str:
    """The acknowledgement of one envelope."""
    frame: dict[str, Any] = {"envelope_id": envelope_id}
    if payload:
        frame["payload"] = payload
    return json.dumps(frame, separators=(",", ":"))


def from_http(content_type: str, body: bytes, retry_num: str | None, retry_reason: str | None
              ) -> Inbound | Malformed:  # fmt: skip
    """One Events API request body (the signature is checked before, on the raw body)."""
    attempt = int(retry_num) if retry_num and retry_num.isdigit() else 0
    reason = retry_reason or ""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Malformed("body is not UTF-8")
    if media == "application/json":
        try:
            payload = json.loads(text)
        except ValueError:
            return Malformed("body is not JSON")
        if not isinstance(payload, dict):
            return Malformed("body is not a JSON object")
        return _inbound("event", payload, None, False, attempt, reason)
    if media == "application/x-www-form-urlencoded":
        fields = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" in fields:
            try:
                payload = json.loads(fields["payload"])
            except ValueError:
                return Malformed("interactive payload is not JSON")
            if not isinstance(payload, dict):
                return Malformed("interactive payload is not a JSON object")
            return _inbound("interactive", payload, None, True, attempt, reason)
        if "command" in fields:
            return _inbound("command", dict(fields), None, True, attempt, reason)
        return Malformed("form without command or payload")
    return Malformed(f"unsupported content type {media!r}")
