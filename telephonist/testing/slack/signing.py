"""Signed Events API requests, as Slack sends them, and the ways to get them wrong.

Slack signs each request it sends to an app's Request URL: ``X-Slack-Signature:
v0=hex(HMAC-SHA256(signing_secret, "v0:" + timestamp + ":" + raw_body))`` with the
timestamp in ``X-Slack-Request-Timestamp`` (docs: verifying requests from Slack).
:func:`signed_request` builds the headers and body of one such request; ``tamper``
selects a broken variant for tests: ``"forged"`` (signed with another secret),
``"stale"`` (correctly signed, but 301 s old), ``"tampered"`` (the body changed after
signing), ``"unsigned"`` (no signature headers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal
from urllib.parse import urlencode

__all__ = ["Tamper", "form_body", "sign", "signed_request"]

Tamper = Literal["none", "forged", "stale", "tampered", "unsigned"]

STALE_BY = 301  # seconds: just outside Slack's five-minute window


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value for ``body`` sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def form_body(fields: dict[str, Any]) -> bytes:
    """A form-encoded body, as Slack sends slash commands (fields) and interactions
    (one ``payload`` field holding the JSON)."""
    return urlencode({k: "" if v is None else str(v) for k, v in fields.items()}).encode()


def signed_request(
    secret: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    tamper: Tamper = "none",
    retry_num: int | None = None,
    retry_reason: str | None = None,
    now: float | None = None,
) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` of one request from Slack (see the module docstring)."""
    moment = int(time.time() if now is None else now)
    if tamper == "stale":
        moment -= STALE_BY
    timestamp = str(moment)
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    if tamper != "unsigned":
        key = secret if tamper != "forged" else secret + "-forged"
        headers["X-Slack-Request-Timestamp"] = timestamp
        headers["X-Slack-Signature"] = sign(key, timestamp, body)
    if tamper == "tampered":
        body = _tamper(body)
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    return headers, body


def _tamper(body: bytes) -> bytes:
    """The same request with one value changed, still well-formed."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body + b"&tampered=1"
    if isinstance(doc, dict):
        doc["tampered"] = True
    return json.dumps(doc).encode()
