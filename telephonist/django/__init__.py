"""Django integration: add ``"telephonist.django"`` to ``INSTALLED_APPS``.

Settings (``TELEPHONIST``, ``CHANNEL_LAYERS``) are read by :mod:`.settings` and checked
by :mod:`.checks`; ``manage.py runserver`` (all-in-one), ``runworker`` and
``runinterfaces`` run the runtime; :mod:`.sessions` and :mod:`.auth` give connections
Django sessions and users; :mod:`.db` keeps database connections healthy around
consumers; :mod:`.testing` has the test tools. See ``docs/django.md``.

Importing this package does not import Django: ``telephonist.django.settings`` and
friends do, and only a Django project uses them.
"""
