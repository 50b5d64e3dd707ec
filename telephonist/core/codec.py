"""Message encoding shared by every backend.

Every layer, the in-memory one included, stores a message as msgpack bytes. That one
step gives three properties the contract needs at once: the receiver gets its own copy
(isolation from later mutation of the sender's dict, and cheaper than ``deepcopy``),
the size limit is measured on the bytes that would cross the wire, and a message that
the Redis layer would refuse (a value msgpack cannot carry) is refused in development
on the in-memory layer too, not first in production.

Decoding trusts nothing: what a Redis layer pops may have been written by a buggy or
hostile peer. ``decode`` turns every way bytes can fail to be a message into one
exception, ``MalformedMessage``, so a reader drops that item and goes on. Its bounds
cost nothing on the good path because msgpack enforces them in C while it parses:
nesting stops at msgpack's stack of 1,024 levels, the message's own map included
(``encode`` refuses the same depth, so no message this package sends is refused on
receipt), and no length a header claims may exceed the bytes actually there, so a
forged 4 GiB array header allocates nothing. What a map holds is not checked (that
would cost a walk of every message): an extension type arrives as ``msgpack.ExtType``,
a value of a type the consumer did not expect, like any other (``host/control.py``'s
``field`` is how code reading messages from the network checks a value's type).
The size of what is decoded is bounded by the readers, which refuse a payload over
``max_message_size`` before decoding it (``redis/keys.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack

from .deprecation import deprecated_names
from .exceptions import MalformedMessage, MessageTooLarge

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "Content", "MalformedMessage", "decode", "encode"]

#: What travels on a layer: a dict with a ``type`` key and msgpack-safe values. Named
#: after ``Message.content`` (``telephonist.consumers.Message``, as in Channels 1): the
#: class a consumer receives wraps one of these.
Content = dict[str, Any]

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024  # 1 MiB: bodies stream in chunks well below it.

_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack
_unpackb = msgpack.unpackb


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
    """Decode one message; ``MalformedMessage`` if ``data`` is not exactly one msgpack
    map (bad bytes, trailing bytes, another type at the top, nesting too deep, ...)."""
    try:
        message = _unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises ValueError, TypeError, StackError, ...
        raise MalformedMessage(_describe(exc)) from None
    if type(message) is not dict:
        raise MalformedMessage(f"a msgpack {type(message).__name__} where a map belongs")
    return message


def _describe(exc: Exception) -> str:
    if isinstance(exc, msgpack.StackError):
        return "nested deeper than msgpack's 1,024 levels"
    return f"not a msgpack message ({type(exc).__name__}: {str(exc)[:100]})"


if TYPE_CHECKING:
    Message = Content  # the alias's old name, served with a warning by ``__getattr__``

# ``Message`` named this alias until it clashed with the consumer's ``Message`` class.
__getattr__ = deprecated_names(
    __name__, {"Message": ("telephonist.core.codec.Content", lambda: Content)}
)
