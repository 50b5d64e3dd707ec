"""Message encoding shared by every backend.

Every layer, the in-memory one included, stores a message as msgpack bytes. That one
step gives three properties the contract needs at once: the receiver gets its own copy
(isolation from later mutation of the sender's dict, and cheaper than ``deepcopy``),
the size limit is measured on the bytes that would cross the wire, and a message that
the Redis layer would refuse (a value msgpack cannot carry) is refused in development
on the in-memory layer too, not first in production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack

from .deprecation import deprecated_names
from .exceptions import MessageTooLarge

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "Content", "decode", "encode"]

#: What travels on a layer: a dict with a ``type`` key and msgpack-safe values. Named
#: after ``Message.content`` (``telephonist.consumers.Message``, as in Channels 1): the
#: class a consumer receives wraps one of these.
Content = dict[str, Any]

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024  # 1 MiB: bodies stream in chunks well below it.

_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def encode(message: Content, max_size: int) -> bytes:
    """Encode ``message``; ``TypeError`` if it is not a msgpack-safe dict, ``MessageTooLarge``
    if the encoding is bigger than ``max_size`` bytes."""
    if not isinstance(message, dict):
        raise TypeError(f"message must be a dict, got {type(message).__name__}")
    try:
        data: bytes = _packb(message)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"message is not msgpack-serialisable: {exc}") from exc
    if len(data) > max_size:
        raise MessageTooLarge(
            f"message is {len(data)} bytes encoded, over the layer's limit of {max_size}"
        )
    return data


def decode(data: bytes | memoryview) -> Content:
    message: Content = msgpack.unpackb(data, raw=False, strict_map_key=False)
    return message


if TYPE_CHECKING:
    Message = Content  # the alias's old name, served with a warning by ``__getattr__``

# ``Message`` named this alias until it clashed with the consumer's ``Message`` class.
__getattr__ = deprecated_names(
    __name__, {"Message": ("telephonist.core.codec.Content", lambda: Content)}
)
