"""The bots of ``bench/irc.py``, each answering ``!ping N`` with ``pong N`` in the room it
was asked in: Telephonist's consumer (``routing.py``), a bare ``irc`` asyncio bot
(``bare.py``) and a Sopel 8 plugin (``sopel_plugins/benchping.py``)."""
