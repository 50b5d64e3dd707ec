"""The Events API endpoint as a sans-IO request handler: raw request in, answer out.

Slack posts events (JSON), slash commands (form fields) and interactions (a form with
one JSON ``payload`` field) to the app's Request URL (``events_path``), each signed
(docs: verifying requests from Slack). :meth:`EventsEndpoint.check` takes the method,
headers and raw body of one request and returns either the answer to give at once or
the :class:`~.envelopes.Inbound` to take:

* not POST: 405; a body over ``max_payload_bytes``: 413;
* the signature: ``v0=HMAC-SHA256(signing_secret, "v0:" + timestamp + ":" + body)``
  over the *raw* body, checked by slack-sdk's ``SignatureVerifier`` (constant-time
  compare), with the timestamp within 300 s of now: else 401, counted by why
  (``signature_missing``, ``signature_stale``, ``signature_bad``) and never logged
  with the secret;
* a malformed body: 400 (``malformed``);
* ``url_verification``: 200 with the ``challenge`` echoed, nothing sent to the layer;
* anything else: an ``Inbound`` carrying ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason``
  as ``retry_attempt``/``retry_reason``.

:func:`answer` turns the intake's :class:`~.intake.Outcome` into the response: 200
(with the ack payload as a JSON body, when there is one) or 503, so Slack retries.

``asgi.py`` serves it on the HTTP interface's port at ``events_path``; any other HTTP
server can call :meth:`SlackInterface.handle_http` the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from slack_sdk.signature import Clock, SignatureVerifier

from .envelopes import Inbound, Malformed, from_http
from .intake import Outcome

__all__ = ["MAX_SKEW", "EventsEndpoint", "HttpAnswer", "answer"]

MAX_SKEW = 300  # seconds: Slack's replay window
_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes = b""
    content_type: str = _TEXT
    counter: str | None = None  # what to count for this answer
    headers: dict[str, str] = field(default_factory=dict)


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class EventsEndpoint:
    def __init__(
        self, signing_secret: str, max_body: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))
        self._clock = clock
        self.max_body = max_body

    def _signature_problem(self, headers: Mapping[str, str], body: bytes) -> str | None:
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature:
            return "signature_missing"
        try:
            skew = abs(self._clock() - int(timestamp))
        except ValueError:
            return "signature_bad"
        if skew > MAX_SKEW:
            return "signature_stale"
        try:
            valid = self._verifier.is_valid(body, timestamp, signature)
        except (ValueError, UnicodeDecodeError):
            valid = False
        return None if valid else "signature_bad"

    def check(self, method: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer | Inbound:
        if method.upper() != "POST":
            return HttpAnswer(405, b"POST only", counter="http_bad_method",
                              headers={"Allow": "POST"})  # fmt: skip
        if len(body) > self.max_body:
            return HttpAnswer(413, b"payload too large", counter="refused_too_large")
        lowered = {k.lower(): v for k, v in headers.items()}
        problem = self._signature_problem(lowered, body)
        if problem is not None:
            return HttpAnswer(401, b"invalid signature", counter=problem)
        parsed = from_http(lowered.get("content-type", ""), body,
                           lowered.get("x-slack-retry-num"),
                           lowered.get("x-slack-retry-reason"))  # fmt: skip
        if isinstance(parsed, Malformed):
            return HttpAnswer(400, parsed.reason.encode(), counter="malformed")
        if parsed.kind == "event" and parsed.payload.get("type") == "url_verification":
            challenge = parsed.payload.get("challenge")
            if not isinstance(challenge, str):
                return HttpAnswer(400, b"url_verification without a challenge", counter="malformed")
            body_out = json.dumps({"challenge": challenge}).encode()
            return HttpAnswer(200, body_out, _JSON, counter="url_verifications")
        return parsed


def answer(outcome: Outcome) -> HttpAnswer:
    """The HTTP response for what the intake decided."""
    if not outcome.ack:
        return HttpAnswer(503, b"try again later", headers={"Retry-After": "1"})
    if outcome.payload:
        return HttpAnswer(200, json.dumps(outcome.payload).encode(), _JSON)
    return HttpAnswer(200)
