"""What a protocol answers when routing has no consumer, or a consumer denies.

A browser waiting on a request or a WebSocket handshake must get an answer even when
nothing in the routing wants its message, or it hangs until a timeout. What that answer
is belongs to the protocol, so it is a small registry keyed by channel glob; the
built-in HTTP and WebSocket answers are registered through the same public function a
third-party interface uses. Channels with no policy are logged and dropped (counted).

An answer is a list of messages for the event's reply channel, or a function of the
event returning one (to answer with something taken from it).
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.codec import Content
from ..spec import http, websocket

__all__ = ["Answer", "ProtocolPolicy", "policy_for", "register_protocol_policy"]

Answer = Sequence[Content] | Callable[[Mapping[str, Any]], Sequence[Content]] | None


@dataclass(frozen=True)
class ProtocolPolicy:
    """Answers for one channel glob; ``None`` means log and drop."""

    channel_glob: str
    no_route: Answer = None
    deny: Answer = None

    def answer(self, kind: str, content: Mapping[str, Any]) -> list[Content] | None:
        """The messages to send for ``kind`` (``"no_route"`` or ``"deny"``), if any."""
        spec = self.no_route if kind == "no_route" else self.deny
        if spec is None:
            return None
        messages = spec(content) if callable(spec) else spec
        return [dict(m) for m in messages]


_lock = threading.Lock()
_policies: list[ProtocolPolicy] = []


def register_protocol_policy(
    channel_glob: str, *, no_route: Answer = None, deny: Answer = None
) -> ProtocolPolicy:
    """Define the answers for channels matching ``channel_glob`` (``fnmatch`` syntax).

    The most recently registered matching glob wins, so a plugin can refine or replace
    a built-in answer; registering the same glob again replaces it.
    """
    policy = ProtocolPolicy(channel_glob, no_route, deny)
    with _lock:
        _policies[:] = [p for p in _policies if p.channel_glob != channel_glob]
        _policies.append(policy)
    return policy


def unregister_protocol_policy(channel_glob: str) -> None:
    """Remove the policy registered for exactly ``channel_glob`` (for tests)."""
    with _lock:
        _policies[:] = [p for p in _policies if p.channel_glob != channel_glob]


def policy_for(channel: str) -> ProtocolPolicy | None:
    with _lock:
        candidates = list(_policies)
    for policy in reversed(candidates):
        if fnmatch.fnmatchcase(channel, policy.channel_glob):
            return policy
    return None


def _http_answer(status: int, text: str) -> list[Content]:
    body = text.encode()
    return [
        {
            "type": http.RESPONSE_START,
            "status": status,
            "headers": [
                [b"content-type", b"text/plain; charset=utf-8"],
                [b"content-length", str(len(body)).encode()],
            ],
        },
        {"type": http.RESPONSE_BODY, "body": body, "more_body": False},
    ]


# 403 for a refused handshake, as Daphne and the ASGI spec do for a close before accept.
_WS_REFUSE: list[Content] = [{"type": websocket.CLOSE, "code": 403}]

register_protocol_policy(
    http.REQUEST,
    no_route=_http_answer(404, "Not Found"),
    deny=_http_answer(403, "Forbidden"),
)
register_protocol_policy(websocket.CONNECT, no_route=_WS_REFUSE, deny=_WS_REFUSE)
