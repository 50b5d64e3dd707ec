"""udpchat: chat over UDP datagrams, a connectionless protocol as a Telephonist interface.

Wire protocol: each datagram is one UTF-8 chat line (``/me text`` an action, ``/nick
NAME`` renames the sender); each line we send back is one datagram.

There is no connection to speak of, so the interface makes one: a *conversation* is a
peer address, from its first datagram until it has been quiet for ``idle_timeout``
seconds (or the server stops). A conversation gets a reply channel, and its events keep
connection affinity like any connection's.

Events (on the channel layer), each with the common chat contract's keys
    ``udpchat.message``  kind ``message`` or ``action``
    ``udpchat.leave``    kind ``leave``, and reason (the conversation's last event)
Reply channel
    a chat reply (``{"text": ...}``)  one datagram per rendered line
    ``ABORT``                        an error datagram; the conversation ends
"""

from telephonist.consumers import ChatProtocol

from .interface import UdpChatConfig, UdpChatInterface

#: udpchat's chat channels, for ``ChatConsumer`` and ``ChatBridge`` in every worker
#: (found through the ``telephonist.chat`` entry point).
UDPCHAT = ChatProtocol(
    "udpchat",
    message_channels=("udpchat.message",),
    leave_channels=("udpchat.leave",),
)

__all__ = ["UDPCHAT", "UdpChatConfig", "UdpChatInterface"]
