"""The application of ``bench/workers.py``: three kinds of consumer work."""
