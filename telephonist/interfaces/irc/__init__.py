"""The IRC interface (client role): bots that reuse any routed consumer.

See ``docs/irc.md`` for the message spec and every setting.
"""

from .config import ChannelSpec, IrcConfig, NetworkConfig
from .interface import IrcInterface

__all__ = ["ChannelSpec", "IrcConfig", "IrcInterface", "NetworkConfig"]
