"""linechat: a line-based TCP chat protocol as a Telephonist interface plugin.

Wire protocol: UTF-8 lines ending in ``\\n``. Every line is a chat message (``/me
text`` an action), except ``/nick NAME`` and ``/join ROOM`` which change how later
lines are labelled.

Events (on the channel layer), each with the common chat contract's keys
    ``linechat.connect``    kind ``join``, and client: [host, port]
    ``linechat.message``    kind ``message`` or ``action``
    ``linechat.disconnect`` kind ``leave``, and reason
Reply channel
    a chat reply (``{"text": ...}``)  writes the text, one line per line, attributed
    ``{"type": "linechat.close"}``   writes ``text`` if given, then closes
    ``ABORT``                        writes an error line and closes the socket
"""

from telephonist.consumers import ChatProtocol

from .interface import LineChatConfig, LineChatInterface

#: linechat's chat channels, found by workers through the ``telephonist.chat`` entry
#: point even when they never import the interface.
LINECHAT = ChatProtocol(
    "linechat",
    message_channels=("linechat.message",),
    join_channels=("linechat.connect",),
    leave_channels=("linechat.disconnect",),
)

__all__ = ["LINECHAT", "LineChatConfig", "LineChatInterface"]
