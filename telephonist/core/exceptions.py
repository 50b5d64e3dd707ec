"""Exceptions raised by channel layers.

They subclass Channels' own exceptions when Channels is installed, so code written
against a Channels 4 project (``except channels.exceptions.ChannelFull``) keeps
working when its ``CHANNEL_LAYERS`` backend is a Telephonist layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    _ChannelFullBase = Exception
    _InvalidLayerBase = Exception
else:
    try:
        from channels.exceptions import ChannelFull as _ChannelFullBase
        from channels.exceptions import InvalidChannelLayerError as _InvalidLayerBase
    except ImportError:  # Channels is optional: plain bases then.
        _ChannelFullBase = Exception
        _InvalidLayerBase = Exception

__all__ = [
    "ChannelFull",
    "InvalidChannelLayerError",
    "LayerUnavailable",
    "MalformedMessage",
    "MessageTooLarge",
]


class ChannelFull(_ChannelFullBase):
    """The channel already holds its capacity of messages; the send was refused."""


class MessageTooLarge(ValueError):
    """The message, once encoded, exceeds the layer's ``max_message_size``."""


class InvalidChannelLayerError(_InvalidLayerBase):
    """A layer configuration names no usable backend or has a bad option."""


class LayerUnavailable(ConnectionError):
    """The layer's backing store could not be reached within the retry budget."""


class MalformedMessage(ValueError):
    """Bytes read from the layer's store that are not a message (see ``codec.decode``).

    Readers catch it: the item is dropped, counted ``malformed`` and logged (rate-limited);
    it never reaches a receiver."""
