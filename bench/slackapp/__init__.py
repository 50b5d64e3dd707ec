"""The two apps ``bench/slack.py`` compares, with the same listener: every ``message``
event is answered with its text by ``chat.postMessage`` in its channel."""
