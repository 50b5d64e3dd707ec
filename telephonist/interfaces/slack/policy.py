"""What the Socket Mode supervisor does about a ``disconnect`` frame, and how long it backs
off after a failure. No I/O (``supervisor.py`` carries the decisions out).

``disconnect`` reasons (docs: using Socket Mode): ``warning`` (the link will be closed
soon), ``refresh_requested`` (Slack wants a new one), ``too_many_websockets`` (over the
app's limit of 10), ``link_disabled`` (Socket Mode was turned off). A reason this code
does not know is treated like a refresh: replacing a link never loses anything.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Decision", "backoff_delay", "on_disconnect"]


@dataclass(frozen=True)
class Decision:
    replace_first: bool  # open the replacement before closing this link
    close_now: bool
    pause: float  # seconds before opening another link
    stop: bool  # reconnect no more


def on_disconnect(reason: str, too_many_backoff: float) -> Decision:
    """What a ``disconnect`` frame with ``reason`` means (see the module docstring)."""
    if reason == "link_disabled":
        return Decision(False, True, 0.0, True)
    if reason == "too_many_websockets":
        return Decision(False, True, too_many_backoff, False)
    return Decision(True, False, 0.0, False)  # warning, refresh_requested, anything new


def backoff_delay(failures: int, low: float, high: float, rand: float) -> float:
    """Full jitter: uniform in [0, min(high, low * 2**failures)] (``rand`` in [0, 1))."""
    ceiling: float = min(high, low * 2.0 ** min(failures, 30))
    return rand * ceiling
