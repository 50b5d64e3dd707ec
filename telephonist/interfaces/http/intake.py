"""A request's way onto the layer and its end there, for HTTP/1.1 and HTTP/2 alike.

The connection (``protocol.py``) or the stream's task (``h2_serve.py``) has parsed and
checked the request, opened its reply channel and read the first body chunk into the
first ``http.request`` message. ``deliver`` sends it: a request whose body came whole
with it goes with ``last=True``, a single-event connection without affinity (no bind
and no release on the layer, which is most of what a request costs there; its wait is
bounded by ``response_timeout`` only, see docs/runtime.md). Further chunks of a longer
body follow as more ``http.request`` events of the same connection; they repeat the
first message's short routing keys (``method``, ``path``, ...), so the routes that
matched the first chunk match them too. A layer that refuses an event is the server's
answer: 503 with ``Retry-After`` when full or unreachable, 413 or 431 for an event over
its size limit. ``retire`` ends it: ``http.disconnect`` if the consumer had the request
but not a complete response, the reply channel freed, the access log line written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ...core.exceptions import ChannelFull, LayerUnavailable, MessageTooLarge
from ...spec.http import (
    DISCONNECT,
    REQUEST,
    HTTPBodyEvent,
    HTTPDisconnectEvent,
    HTTPRequestEvent,
)
from .exchange import Exchange
from .state import ServerState

__all__ = ["deliver", "retire"]


async def deliver(
    state: ServerState,
    ex: Exchange[Any],
    message: HTTPRequestEvent,
    read: Callable[[], Awaitable[tuple[bytes, bool]]],
    peer: str | None,
) -> None:
    """Send ``message`` (the request's first event), then the rest of its body, each
    chunk as ``read`` returns it, until the end or the end of the exchange."""
    done = not message["more_body"]
    if not await _send(state, ex, message, peer, last=done):
        return
    ex.delivered, ex.single = True, done
    ex.start_response_timer(state.config.response_timeout)
    while not done and not ex.finished:
        body, done = await read()
        if ex.is_over():  # the response may have ended while we read
            break
        # The short routing keys again, so route filters match every chunk alike.
        more: HTTPBodyEvent = {
            "type": REQUEST,
            "method": message["method"],
            "path": message["path"],
            "scheme": message["scheme"],
            "http_version": message["http_version"],
            "query_string": message["query_string"],
            "root_path": message["root_path"],
            "body": body,
            "more_body": not done,
        }
        if not await _send(state, ex, more, peer):
            return


async def _send(
    state: ServerState,
    ex: Exchange[Any],
    message: HTTPRequestEvent | HTTPBodyEvent,
    peer: str | None,
    last: bool = False,
) -> bool:
    try:
        await state.host.send_event(
            REQUEST,
            # An event TypedDict is a plain dict at run time, but mypy does not take it
            # for the layer's dict[str, Any] (a cast would cost a call per event).
            message,  # type: ignore[arg-type]
            connection=ex.reply_channel,
            last=last,
        )
    except ChannelFull:
        state.violation("channel_full", f"{REQUEST} is full", peer)
        ex.fail(503, [(b"retry-after", str(state.config.retry_after).encode())])
        return False
    except LayerUnavailable as exc:
        # The layer's server is out (a Redis restart, a Sentinel failover) for longer
        # than its retry budget: the same answer as a full layer, not a reset.
        state.violation("layer_unavailable", str(exc), peer)
        ex.fail(503, [(b"retry-after", str(state.config.retry_after).encode())])
        return False
    except MessageTooLarge as exc:
        state.violation("message_too_large", str(exc), peer)
        ex.fail(413 if message.get("body") else 431)
        return False
    return True


async def retire(state: ServerState, ex: Exchange[Any], peer: str | None) -> None:
    """After an exchange: tell the consumer if it was cut short, free its channel, log
    it."""
    if not ex.finished:
        ex.finish()
    host = state.host
    if ex.reply_channel:
        if ex.delivered and not ex.completed:
            disconnect: HTTPDisconnectEvent = {"type": DISCONNECT}
            try:
                await host.send_event(
                    DISCONNECT,
                    disconnect,  # type: ignore[arg-type]  # see _send
                    connection=ex.reply_channel,
                )
            except Exception as exc:  # best effort: the client is gone anyway.
                state.log.debug("http.disconnect not sent: %s", exc)
        host.close_reply_channel(ex.reply_channel)
    state.access(ex, peer)
