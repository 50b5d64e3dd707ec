"""An answer sent before the request body was read (413 for a declared body over
``max_body_bytes``) reaches a client that is still sending that body. Such a client
(``http.client``, and ``requests`` on top of it) reads the answer only once it has sent
the whole body; a server that just closes makes it fail with a broken pipe or a reset
and never see the 413. The server closes with a lingering close instead: its answer
and its FIN, then what the client still sends is read and dropped (bounded)."""

from __future__ import annotations

import http.client
from pathlib import Path

from tests.http.process import RunningServer, toml_for

BODY = 8 * 1024 * 1024  # far more than the socket buffers hold


def test_413_reaches_a_client_still_sending_its_body(tmp_path: Path) -> None:
    server = RunningServer(tmp_path, toml_for(max_body_bytes=1024)).ready()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request("POST", "/echo", body=b"x" * BODY)  # BrokenPipeError without it
            answer = conn.getresponse()
            assert answer.status == 413
            answer.read()
        finally:
            conn.close()
        assert "body_too_large" in server.stderr()
    finally:
        server.stop()
