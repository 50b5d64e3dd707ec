"""Django's commands as processes (``runserver``, ``runworker``, ``python manage.py ...``),
for the command and docs tests: a session of their own, stdout and stderr in one log."""

from __future__ import annotations

import re
import signal

from telephonist.testing.processes import Process

__all__ = ["TIMEOUT", "Proc"]

TIMEOUT = 30.0


class Proc(Process):
    """A Django command; started with ``new_session=True``, stopped as a developer
    stops ``runserver`` (Ctrl-C: SIGINT to its process group)."""

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        return self.wait_for_line(pattern, timeout=timeout)

    def endpoint(self, name: str) -> str:
        return self.wait_for(rf"^interface {name}: (\S+)$").group(1)

    def stop(self, timeout: float = TIMEOUT, sig: int = signal.SIGINT) -> int:
        return super().stop(timeout, sig)
