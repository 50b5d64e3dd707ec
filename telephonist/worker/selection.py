"""Which shared channels a worker takes: ``--only`` and ``--exclude`` globs.

The candidates are the channels the routing names plus the event channels of the
configured interfaces (``Interface.event_channels``). The latter matter for affinity:
a connection is bound by the worker that takes its FIRST event, so that event must be
taken even when no route wants it (a routing that answers ``linechat.message`` but not
``linechat.connect``); the worker then binds the connection and skips the dispatch.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

__all__ = ["select_channels"]


def select_channels(
    candidates: Iterable[str], only: Iterable[str] = (), exclude: Iterable[str] = ()
) -> list[str]:
    """Candidates matching any ``only`` glob (all if none) and no ``exclude`` glob."""
    only, exclude = list(only), list(exclude)
    chosen = []
    for channel in sorted(set(candidates)):
        if only and not any(fnmatch.fnmatchcase(channel, g) for g in only):
            continue
        if any(fnmatch.fnmatchcase(channel, g) for g in exclude):
            continue
        chosen.append(channel)
    return chosen
