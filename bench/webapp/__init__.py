"""The tiny Django project every server in ``bench/http.py`` and ``bench/ws.py`` serves.

Django's ``startproject`` middleware and apps, a sync view and an async view that
touch nothing external (no database, no session read), and a WebSocket echo consumer
for each framework: ``routing.py`` for Telephonist, ``asgi.py`` for Channels 4 under
Daphne and uvicorn. It is imported as ``bench.webapp`` with the repository root on
``PYTHONPATH`` and ``DJANGO_SETTINGS_MODULE=bench.webapp.settings``: ``bench/`` itself
must not be on the path of a server, since ``bench/http.py`` would shadow the standard
library's ``http``.
"""
