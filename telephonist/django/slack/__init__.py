"""Slack OAuth installations in Django's database: add ``"telephonist.django.slack"`` to
``INSTALLED_APPS`` (after ``"telephonist.django"``) and run ``manage.py migrate``.

The Slack interface then keeps the tokens of the workspaces that install the app
(``[interfaces.slack.oauth]``) and the state of installs in progress in this app's
tables (``models.py``), through slack-sdk's store interfaces (``stores.py``), shared by
every interface server on the database. See ``docs/slack.md``, "Installing in many
workspaces (OAuth)".
"""
