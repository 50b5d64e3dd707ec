"""One HTTP/2 connection: ``h2`` driven by the bytes of the HTTP connection it took over.

Theory of operation
-------------------
``HttpProtocol`` (``protocol.py``) owns the Twisted transport. When the TLS handshake
chose ``h2`` (ALPN), or the first bytes are the HTTP/2 preface (h2c by prior knowledge),
it builds an ``Http2Connection`` and forwards every byte to it from then on, as it does
for a WebSocket upgrade; writes, backpressure and closing still go through it
(``Outlet``). What leaves, and when the flow-control windows let it, is
``h2_output.py``.

Each chunk of bytes goes to the ``FrameGuard`` (flood accounting, ``h2_guard.py``) and
then to ``h2``, which turns it into events. A ``RequestReceived`` opens an ``H2Stream``
(``h2_stream.py``) and a task that serves it exactly as HTTP/1.1 serves a request
(``h2_serve.py``), or, for an extended CONNECT (RFC 8441), a tunnel for the
upgrader (``h2_tunnel.open_tunnel``); DATA, END_STREAM and RST_STREAM go to their
stream; WINDOW_UPDATE wakes streams waiting to send. Whatever breaks the connection's
rules (a flood, a protocol error, a window overrun, too many streams) is one GOAWAY
with its error code, one log line (rate-limited), one counter; the streams in flight
end as if the client had gone, and the process serves everyone else on.
"""

from __future__ import annotations

import asyncio
import logging

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

from ...core.ratelog import RateLimitedLog
from .h2_guard import FrameGuard, GuardLimits, Violation
from .h2_head import read_head
from .h2_output import H2Output, Outlet
from .h2_serve import serve_stream
from .h2_stream import CANCEL, H2Stream
from .h2_tunnel import StreamTransport, open_tunnel
from .scope import Endpoint
from .state import ServerState

__all__ = ["Http2Connection"]

NO_ERROR, REFUSED_STREAM = 0x0, 0x7

_ratelog = RateLimitedLog(logging.getLogger("telephonist.interfaces.http"))

_COUNTERS: tuple[tuple[type[Exception], str], ...] = (
    (h2.exceptions.FlowControlError, "h2_flow_control"),
    (h2.exceptions.TooManyStreamsError, "h2_too_many_streams"),
    (h2.exceptions.DenialOfServiceError, "h2_header_list_too_large"),
    (h2.exceptions.FrameTooLargeError, "h2_frame_too_large"),
)


class Http2Connection(H2Output):
    """See the module docstring; the write side (the streams' ``StreamLink``) is
    ``H2Output``."""

    def __init__(self, state: ServerState, out: Outlet, endpoint: Endpoint) -> None:
        cfg = state.config
        h2cfg = cfg.http2
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=False,
                header_encoding=None,
                # What we send was checked already, by the rules HTTP/1.1 answers are
                # checked by (parse_start, header_pairs: token names, no CR/LF/NUL,
                # lower case) plus the dropped connection headers; h2 checking it again
                # was a tenth of the server's time per request. Inbound stays checked.
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        super().__init__(state, out, endpoint, conn)
        self.conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: h2cfg.max_concurrent_streams,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: h2cfg.stream_window_bytes,
                # RFC 8441: WebSockets over HTTP/2, when an upgrader takes them.
                h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: int(bool(state.upgraders)),
            },
        )
        # A header list over max_header_bytes is a 431 on its stream, as on HTTP/1.1
        # (counted in _request); only one four times that size is an attack (an HPACK
        # bomb) that h2 stops with GOAWAY. Not announced in SETTINGS, for the same reason:
        # h2 would make the announced size its hard bound.
        self.conn.decoder.max_header_list_size = 4 * cfg.max_header_bytes
        self.guard = FrameGuard(
            GuardLimits(
                resets_burst=h2cfg.resets_burst,
                pings_burst=h2cfg.pings_burst,
                settings_burst=h2cfg.settings_burst,
                priority_burst=h2cfg.priority_burst,
                empty_data_burst=h2cfg.empty_data_burst,
                window=h2cfg.flood_window,
                max_continuation_frames=h2cfg.max_continuation_frames,
                max_header_block_bytes=h2cfg.max_header_block_bytes,
            )
        )
        self.streams: dict[int, H2Stream] = {}
        #: Streams carrying an upgraded protocol (WebSocket, RFC 8441).
        self.tunnels: dict[int, StreamTransport] = {}
        self.requests = 0
        self._going = False  # GOAWAY sent or received: no new streams
        self._idle: asyncio.TimerHandle | None = None
        self.conn.initiate_connection()
        grow = h2cfg.connection_window_bytes - self.conn.inbound_flow_control_window
        if grow > 0:
            self.conn.increment_flow_control_window(grow)
        self.flush()
        self._arm_idle()

    # -- from the HTTP connection -----------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        found = self.guard.feed(data, self._loop.time())
        if found is not None:
            self._goaway(found)
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            counter = next((c for t, c in _COUNTERS if isinstance(exc, t)), "h2_protocol_error")
            # h2 has queued its GOAWAY already; send it and go.
            self._goaway(Violation(counter, int(exc.error_code), str(exc)), queued=True)
            return
        for event in events:
            self._event(event)
        self.flush()

    def connectionLost(self, reason: object = None) -> None:
        self._closed = True
        self._cancel_idle()
        for stream in list(self.streams.values()):
            stream.client_gone = True
            stream.finish()
        for tunnel in list(self.tunnels.values()):
            tunnel.lost(clean=False)
        self._wake_all()

    def drain(self) -> None:
        """Shutdown: GOAWAY, let the streams in flight finish, then close."""
        if not self._going and not self._closed:
            self._going = True
            # Made here, not by h2: h2's close_connection moves its state machine to
            # CLOSED, which would refuse the frames of the streams still in flight
            # (even the client's SETTINGS ACK) that a graceful GOAWAY must let finish.
            goaway = GoAwayFrame(0)
            goaway.last_stream_id = self.conn.highest_inbound_stream_id
            goaway.error_code = NO_ERROR
            self.flush_now()
            self.out.write(goaway.serialize())
        if not self.streams and not self.tunnels:
            self.out.close()

    # -- events -----------------------------------------------------------------------

    def _event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._request(event)
        elif isinstance(event, h2.events.DataReceived):
            sid, flow = event.stream_id or 0, event.flow_controlled_length or 0
            data = event.data or b""
            tunnel = self.tunnels.get(sid)
            if tunnel is not None:
                tunnel.received(data)
                flow -= len(data)
            stream = self.streams.get(sid)
            if stream is not None and not stream.finished:
                stream.feed(data)
                flow -= len(data)  # padding: nobody reads it
            if flow:
                self.conn.acknowledge_received_data(flow, sid)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                stream.end_input()
            tunnel = self.tunnels.get(event.stream_id or 0)
            if tunnel is not None:
                # The client's half-close: taken as gone, as on HTTP/1.1 (docs/http.md).
                tunnel.lost()
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                stream.client_gone = True
                stream.finish()
            tunnel = self.tunnels.get(event.stream_id or 0)
            if tunnel is not None:
                tunnel.lost(clean=False)
            self._wake(event.stream_id or 0)
        elif isinstance(event, h2.events.WindowUpdated):
            if event.stream_id:
                self._wake(event.stream_id)
            else:
                self._wake_all()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._wake_all()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._going = True
            if not self.streams and not self.tunnels:
                self.flush_now()
                self.out.close()

    def _request(self, event: h2.events.RequestReceived) -> None:
        sid = event.stream_id or 0
        if self._going or not self.state.accepting:
            self.conn.reset_stream(sid, REFUSED_STREAM)
            return
        cfg = self.state.config
        head = read_head(
            event.headers or (),  # bytes: header_encoding=None
            max_header_bytes=cfg.max_header_bytes,
            max_header_count=cfg.max_header_count,
            max_body_bytes=cfg.max_body_bytes,
        )
        if head.protocol is not None:
            open_tunnel(
                self, self.state, self.endpoint, self.out.transport, sid, head, self._opened
            )
            return
        stream = H2Stream(
            self,
            sid,
            head.request,
            ended=event.stream_ended is not None,
            chunk=cfg.body_chunk_bytes,
            max_body=cfg.max_body_bytes,
            body_timeout=cfg.body_timeout,
            body_min_rate=cfg.body_min_rate,
        )
        self.streams[sid] = stream
        self.requests += 1
        self._cancel_idle()
        task = self._loop.create_task(
            serve_stream(self.state, self.endpoint, stream, head.headers, head.problem)
        )
        task.add_done_callback(lambda _t: self._retired(sid))

    def _opened(self, tunnel: StreamTransport) -> None:
        self.tunnels[tunnel.sid] = tunnel
        self._cancel_idle()

    def tunnel_closed(self, sid: int) -> None:
        if self.tunnels.pop(sid, None) is not None and not self._closed:
            self.flush()
            self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self.streams and not self.tunnels:
            if self._going:
                self.flush_now()
                self.out.close()
            else:
                self._arm_idle()

    def _retired(self, sid: int) -> None:
        stream = self.streams.pop(sid, None)
        if stream is None or self._closed:
            return
        # Bytes that came for a stream nobody reads any more go back to the window, and
        # a request body not read to its end is stopped (RFC 9113 8.1: RST_STREAM
        # NO_ERROR after a complete response).
        unread = stream.unread()
        if unread:
            self.conn.acknowledge_received_data(unread, sid)
        open_ = self.conn.streams.get(sid)
        if open_ is not None and not open_.closed and not stream.client_gone:
            self.reset(sid, NO_ERROR if stream.reply.started else CANCEL)
        self.flush()
        self._maybe_idle()

    # -- internals --------------------------------------------------------------------

    def _goaway(self, found: Violation, queued: bool = False) -> None:
        self.state.host.count(found.counter)
        _ratelog.warning(
            found.counter,
            "http %s from %s: %s (GOAWAY %d)",
            found.counter,
            self.endpoint.peer_host or "-",
            found.reason,
            found.error_code,
        )
        if not queued:
            self.conn.close_connection(found.error_code)
        self._going = True
        self.flush_now()
        self.out.close()
        self.connectionLost()

    def _arm_idle(self) -> None:
        self._cancel_idle()
        self._idle = self._loop.call_later(self.state.config.http2.idle_timeout, self._idled)

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _idled(self) -> None:
        self._idle = None
        if not self.streams and not self.tunnels:
            self.drain()
