"""A session engine (the database one) that counts reads and writes, for tests."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.sessions.backends import db


class Counts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loads = 0
        self.saves = 0

    def reset(self) -> None:
        with self._lock:
            self.loads = self.saves = 0

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)


COUNTS = Counts()


class SessionStore(db.SessionStore):
    def load(self) -> Any:
        COUNTS.count("loads")
        return super().load()

    def save(self, must_create: bool = False) -> None:
        COUNTS.count("saves")
        super().save(must_create)
