"""linechat: a line-based TCP chat protocol as a Telephonist interface plugin.

Wire protocol: UTF-8 lines ending in ``\\n``. Every line is a chat message, except
``/nick NAME`` and ``/join ROOM`` which change how later lines are labelled.

Events (on the channel layer)
    ``linechat.connect``    {client: [host, port], user, room}
    ``linechat.message``    {text, user, room}   (the common chat keys)
    ``linechat.disconnect`` {user, room, reason}
Reply channel
    ``{"text": ...}``             writes the text, one line per line of text
    ``{"type": "linechat.close"}`` writes ``text`` if given, then closes
    ``ABORT``                     writes an error line and closes the socket
"""

from .interface import LineChatConfig, LineChatInterface

__all__ = ["LineChatConfig", "LineChatInterface"]
