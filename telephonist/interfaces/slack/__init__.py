"""The Slack interface: Socket Mode and the Events API in, the Web API out, as ``slack.*``
messages.

See ``docs/slack.md`` for the message spec, every setting and reply action, and the
delivery promise (acknowledged only once on the layer, retries never delivered twice).
"""

from .config import SlackConfig, TeamConfig
from .interface import SlackInterface

__all__ = ["SlackConfig", "SlackInterface", "TeamConfig"]
