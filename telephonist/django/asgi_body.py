"""Request bodies that arrive in several ``http.request`` messages, assembled per
connection in the worker.

Connection affinity sends every chunk of one request to the same worker, in order, so
the assembly can live here, keyed by the reply channel. Bodies are spooled: in memory up
to ``FILE_UPLOAD_MAX_MEMORY_SIZE`` (Django's own threshold), then in a temporary file,
so an upload does not sit whole in memory. The number of bodies in assembly is bounded;
past it the oldest is dropped (its client has most likely gone), and a connection the
worker releases is dropped at once.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = ["Body", "BodyStore"]


@dataclass
class Body:
    """A request: its first message (the scope keys) and its body so far."""

    first: Mapping[str, Any]
    file: IO[bytes]
    length: int = 0
    done: bool = False
    disconnected: bool = field(default=False)


class BodyStore:
    def __init__(self, spool_bytes: int, limit: int = 1000) -> None:
        self.spool_bytes = spool_bytes
        self.limit = limit
        self._lock = threading.Lock()
        self._bodies: OrderedDict[str, Body] = OrderedDict()

    def add(self, key: str, message: Mapping[str, Any]) -> Body | None:
        """Take one ``http.request`` message; the complete ``Body`` once its last chunk
        is here, else ``None``. A message with ``order`` 0 starts a new request."""
        chunk = bytes(message.get("body") or b"")
        more = bool(message.get("more_body", False))
        if not more and message.get("order", 0) == 0 and key not in self._bodies:
            # The whole body in its first message (most requests): it is in memory
            # already, bounded by the interface's chunk size, so no spooling to set up.
            return Body(message, io.BytesIO(chunk), len(chunk), done=True)
        with self._lock:
            body = self._bodies.pop(key, None)
            if message.get("order", 0) == 0 or body is None:
                if body is not None:
                    body.file.close()
                if message.get("order", 0) != 0:
                    return None  # the start of this request was dropped: nothing to do
                spool: IO[bytes] = tempfile.SpooledTemporaryFile(self.spool_bytes)  # noqa: SIM115
                body = Body(message, spool)
            body.file.write(chunk)
            body.length += len(chunk)
            if not more:
                body.done = True
                body.file.seek(0)
                return body
            self._bodies[key] = body
            while len(self._bodies) > self.limit:
                _, oldest = self._bodies.popitem(last=False)
                oldest.file.close()
            return None

    def discard(self, key: str) -> None:
        with self._lock:
            body = self._bodies.pop(key, None)
        if body is not None:
            body.file.close()

    def __len__(self) -> int:
        return len(self._bodies)
