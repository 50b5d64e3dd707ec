"""An answer sent before the request body was read (413 for a declared body over
``max_body_bytes``) reaches a client that is still sending that body: the server closes
with a lingering close (its FIN, then what the client still sends is read and dropped,
bounded), not with a reset, which can destroy the answer in the client's buffers. On
loopback the answer usually wins that race whatever the server does, so this checks
the outcome a client must see: the 413, then an orderly end of stream."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.http.process import RunningServer, toml_for


def test_413_then_an_orderly_close_for_a_client_still_sending(tmp_path: Path) -> None:
    server = RunningServer(tmp_path, toml_for(max_body_bytes=1024)).ready()
    try:
        body = b"x" * (256 * 1024)  # under the lingering bound: all of it is taken
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
            sock.sendall(head + body)
            received = b""
            while chunk := sock.recv(65536):  # ConnectionResetError on a reset
                received += chunk
        assert received.startswith(b"HTTP/1.1 413 "), received
    finally:
        server.stop()
