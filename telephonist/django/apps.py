"""The Django app: ``INSTALLED_APPS = ["telephonist.django", ...]``."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["TelephonistConfig"]


class TelephonistConfig(AppConfig):
    name = "telephonist.django"
    label = "telephonist"
    verbose_name = "Telephonist"

    def ready(self) -> None:
        # Registering checks and hooks here (not at import) is Django's rule: the app
        # registry is complete, and importing the package alone has no side effects.
        from django.core import checks
        from django.core.signals import setting_changed

        from ..core.layers import channel_layers
        from . import state  # noqa: F401  (connects its end-of-connection cleanup)
        from .channels_app import bridge_channels_layers
        from .channels_db import track_connections
        from .checks import check_settings
        from .db import connect_hygiene
        from .settings import django_layer_settings

        checks.register(check_settings, "telephonist")
        connect_hygiene()
        track_connections()  # before any connection opens (see channels_db)
        # get_channel_layer() in views, commands and shells: the project's layer as
        # Django's settings say (a running worker or server installs its own instead).
        channel_layers.configure(django_layer_settings)
        # Channels' get_channel_layer() (what a Channels consumer, view or command calls)
        # answers with the same layers, so they all reach the rooms the workers serve.
        bridge_channels_layers()
        setting_changed.connect(_layers_changed)


def _layers_changed(setting: str, **kwargs: object) -> None:
    """``override_settings(CHANNEL_LAYERS=...)`` in a test: the project's layers follow."""
    if setting not in ("CHANNEL_LAYERS", "TELEPHONIST"):
        return
    from ..core.layers import channel_layers
    from .settings import django_layer_settings

    channel_layers.configure(django_layer_settings)
    for alias in list(channel_layers.backends):
        channel_layers.set(alias, None)
