"""Message specs in code: channel names and TypedDicts of the messages a protocol's
interface sends and its consumers send back (``docs/<protocol>.md`` is the prose).

They sit below both sides of the contract, so interfaces, consumers, routing, the Django
views and the test tools all use the same names. Nothing here imports a protocol
library: importing a spec costs no optional extra.

``http`` and ``websocket`` follow the ASGI 3 ``www`` spec; ``www`` holds the
connection scope both share.
"""
