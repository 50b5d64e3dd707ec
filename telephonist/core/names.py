"""Channel and group name rules, identical to Channels 4 so names move both ways.

A channel name is ASCII letters, digits, ``-``, ``_`` and ``.``, optionally followed by
one ``!`` and a process-local part: ``websocket.receive`` is a normal channel that any
process may read, ``worker.a1b2!c3d4`` is *process-specific*: only the process that
created ``worker.a1b2!`` reads it. Names are shorter than 100 characters.

A layer enforces the "only" on receive: a ``!`` name its own ``new_channel`` did not
make raises ``foreign_channel_error`` at once (as channels_redis does). Without that
rule a receive on another process's channel would take that process's messages.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_NAME_LENGTH",
    "foreign_channel_error",
    "is_process_specific",
    "non_local_name",
    "require_valid_channel_name",
    "require_valid_group_name",
]

MAX_NAME_LENGTH = 100

_CHANNEL_RE = re.compile(r"^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$")
_GROUP_RE = re.compile(r"^[a-zA-Z\d\-_.]+$")
_ERROR = (
    "{kind} name must be a valid unicode string with length < "
    f"{MAX_NAME_LENGTH} containing only ASCII alphanumerics, hyphens, underscores, "
    "or periods (channels may have one '!'); got {name!r}"
)


def _check(kind: str, name: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(name, str) or len(name) >= MAX_NAME_LENGTH or not pattern.match(name):
        raise TypeError(_ERROR.format(kind=kind, name=name))
    return name


# Names already found valid: every send and receive checks its channel name, and most
# traffic goes to a few names. Bounded (cleared when full): reply channels are made by
# the million over a process's life. A set under the GIL: safe from any thread.
_VALID_CHANNELS: set[str] = set()
_VALID_CACHE_SIZE = 16384


def require_valid_channel_name(name: object) -> str:
    """Return ``name`` if it is a valid channel name, else raise ``TypeError`` (as Channels)."""
    if type(name) is str and name in _VALID_CHANNELS:
        return name
    valid = _check("Channel", name, _CHANNEL_RE)
    if len(_VALID_CHANNELS) >= _VALID_CACHE_SIZE:
        _VALID_CHANNELS.clear()
    _VALID_CHANNELS.add(valid)
    return valid


def require_valid_group_name(name: object) -> str:
    """Return ``name`` if it is a valid group name, else raise ``TypeError`` (as Channels)."""
    return _check("Group", name, _GROUP_RE)


def is_process_specific(name: str) -> bool:
    return "!" in name


def non_local_name(name: str) -> str:
    """``'a.b!c'`` -> ``'a.b!'``: the part that names the owning process."""
    bang = name.find("!")
    return name if bang < 0 else name[: bang + 1]


def foreign_channel_error(name: str) -> TypeError:
    """The error for a receive on a process-specific channel this layer did not make
    (a ``TypeError``, as Channels' own receive-side name rules raise)."""
    return TypeError(
        f"cannot receive on {name!r}: a process receives only on its own '!' channels, "
        "the ones its layer's new_channel() made (channels_redis: 'Wrong client prefix')"
    )
