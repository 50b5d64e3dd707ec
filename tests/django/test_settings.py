"""settings.TELEPHONIST and CHANNEL_LAYERS into the one configuration model, and the
system checks that report what to change."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks

from telephonist.config import ConfigError
from telephonist.django.checks import check_settings
from telephonist.django.routing import compose
from telephonist.django.settings import django_source, load_django_config
from telephonist.routing import Router


def messages(ids: str = "telephonist.") -> list[checks.CheckMessage]:
    return [m for m in check_settings() if m.id.startswith(ids)]


def test_telephonist_setting_is_the_configuration(settings: Any) -> None:
    settings.TELEPHONIST = {
        "ROUTING": "tests.django.testapp.routing.routes",  # Django-style upper case works
        "worker": {"THREADS": 3},
        "interfaces": {"http": {"endpoints": ["tcp:port=8123:interface=127.0.0.1"]}},
    }
    config = load_django_config()
    assert config.routing == "tests.django.testapp.routing.routes"
    assert config.worker.threads == 3
    assert config.interfaces["http"]["endpoints"] == ["tcp:port=8123:interface=127.0.0.1"]
    assert config.layer.BACKEND == "memory"


def test_without_interfaces_a_project_serves_http(settings: Any) -> None:
    settings.TELEPHONIST = {}
    assert list(load_django_config().interfaces) == ["http"]
    # WebSocket origins follow ALLOWED_HOSTS (docs/security.md)
    websocket = load_django_config().interfaces["http"]["websocket"]
    assert websocket["allowed_origins"] == []
    assert "127.0.0.1" in websocket["allowed_hosts"]


def test_environment_and_set_override_one_key_of_the_settings(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TELEPHONIST = {"worker": {"threads": 3, "concurrency": 7}}
    monkeypatch.setenv("TELEPHONIST_WORKER__THREADS", "5")
    config = load_django_config(["worker.concurrency=9"])
    assert (config.worker.threads, config.worker.concurrency) == (5, 9)


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("asgi_redis.RedisChannelLayer", "redis"),  # Channels 1: the package is gone
        ("asgiref.inmemory.ChannelLayer", "memory"),
        # channels_redis lost messages inside Telephonist (issue 18): ours serves its CONFIG.
        ("channels_redis.core.RedisChannelLayer", "redis"),
        ("channels_redis.pubsub.RedisPubSubChannelLayer", "redis"),
    ],
)
def test_channel_layers_in_channels_format(settings: Any, backend: str, expected: str) -> None:
    settings.TELEPHONIST = {}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": backend,
            "CONFIG": {"hosts": ["redis://127.0.0.1:6399"]},
            "ROUTING": "tests.django.testapp.routing.routes",
        }
    }
    config = load_django_config()
    assert expected == config.layer.BACKEND
    assert config.layer.CONFIG == {"hosts": ["redis://127.0.0.1:6399"]}
    assert config.routing == "tests.django.testapp.routing.routes"  # Channels 1's ROUTING


def test_telephonist_layer_wins_over_channel_layers(settings: Any) -> None:
    settings.TELEPHONIST = {"layer": {"BACKEND": "memory"}, "routing": "a.b"}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "redis", "ROUTING": "c.d"}}
    config = load_django_config()
    assert config.layer.BACKEND == "memory"
    assert config.routing == "a.b"


def test_shapes_that_cannot_be_read(settings: Any) -> None:
    settings.TELEPHONIST = ["not", "a", "dict"]
    with pytest.raises(ConfigError, match="TELEPHONIST: expected a dict, got list"):
        django_source()
    settings.TELEPHONIST = {}
    settings.CHANNEL_LAYERS = {"other": {"BACKEND": "memory"}}
    with pytest.raises(ConfigError, match="CHANNEL_LAYERS: has no 'default' entry"):
        django_source()


def test_valid_settings_pass_the_checks() -> None:
    assert messages() == []


def test_a_bad_value_is_reported_with_its_key_and_what_to_change(settings: Any) -> None:
    settings.TELEPHONIST = {"worker": {"threads": 0}}
    (error,) = messages()
    assert error.id == "telephonist.E001"
    assert error.level == checks.ERROR
    assert error.msg == (
        "TELEPHONIST['worker']['threads']: Input should be greater than or equal to 1 (got 0)"
    )
    assert "Change that key in settings.TELEPHONIST" in error.hint


def test_interface_options_are_checked_by_the_interface(settings: Any) -> None:
    settings.TELEPHONIST = {
        "interfaces": {"http": {"max_connections": "many"}, "carrier-pigeon": {}}
    }
    found = {m.msg for m in messages("telephonist.E002")}
    assert found == {
        "TELEPHONIST['interfaces']['http']['max_connections']: "
        "Input should be a valid integer (got 'many')",
        "TELEPHONIST['interfaces']['carrier-pigeon']: no interface of that name is installed "
        "(see `telephonist interfaces`)",
    }
    assert all("installed interfaces: " in m.hint for m in messages("telephonist.E002"))


def test_routing_problems_name_the_route(settings: Any) -> None:
    settings.TELEPHONIST = {"routing": "tests.django.testapp.nowhere.routes"}
    (error,) = messages()
    assert error.id == "telephonist.E003"
    assert "tests.django.testapp.nowhere" in error.msg
    assert "TELEPHONIST['routing']" in error.hint


def test_staticfiles_before_telephonist_is_warned(settings: Any) -> None:
    settings.INSTALLED_APPS = [
        "django.contrib.staticfiles",
        "telephonist.django",
        "django.contrib.contenttypes",
    ]
    (warning,) = messages("telephonist.W001")
    assert warning.level == checks.WARNING
    assert "Move 'telephonist.django' above 'django.contrib.staticfiles'" in warning.hint


def test_daphne_before_telephonist_is_warned() -> None:
    from telephonist.django.checks import app_order

    assert app_order(["telephonist.django", "daphne", "chat"]) == []  # the one line added
    (warning,) = app_order(["daphne", "telephonist.django", "django.contrib.staticfiles"])
    assert warning.id == "telephonist.W001"
    assert "Daphne's server" in warning.msg
    assert warning.hint == "Move 'telephonist.django' above 'daphne'."


def test_cookie_sessions_are_warned(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    (warning,) = messages("telephonist.W002")
    assert "channel_session" in warning.msg


def test_the_commands_route_static_files_then_the_project_then_views(settings: Any) -> None:
    settings.STATIC_URL = "/assets/"
    router = Router(compose("tests.django.testapp.routing.routes", static=True))
    static = router.match("http.request", {"path": "/assets/testapp/site.css"})
    assert static is not None
    assert "StaticFilesConsumer, path='^/assets/'" in static.route
    chat = router.match("websocket.receive", {"path": "/chat/lobby/", "text": "hi"})
    assert chat is not None
    assert chat.kwargs == {"room": "lobby"}
    assert Router(compose(None, static=False)).match("websocket.receive", {"path": "/"}) is None


def test_asgi_application_takes_what_the_projects_routing_leaves(settings: Any) -> None:
    """docs/django.md, "Moving a Channels project", step 6: TELEPHONIST['routing'] first,
    then ASGI_APPLICATION for every other WebSocket and HTTP event (not Django views)."""
    from telephonist.django.channels_app import hosted_application

    settings.ASGI_APPLICATION = "tests.django.testapp.asgi.application"
    router = Router(compose("tests.django.testapp.routing.routes"))
    chat = router.match("websocket.receive", {"path": "/chat/lobby/", "text": "hi"})
    assert chat is not None
    assert chat.kwargs == {"room": "lobby"}
    hosted = router.match("http.request", {"path": "/page/"})  # not Django views
    assert hosted is not None
    assert hosted.consumer is hosted_application
    assert Router(compose(None)).channels == set(hosted_application.channels)


def test_an_asgi_application_that_does_not_import_is_an_error(settings: Any) -> None:
    settings.ASGI_APPLICATION = "tests.django.testapp.nowhere.application"
    (error,) = messages("telephonist.E004")
    assert "'tests.django.testapp.nowhere.application' does not import" in error.msg


def test_a_replaced_channels_redis_backend_is_logged_by_the_commands(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from telephonist.django.settings import log_replaced_backends

    settings.TELEPHONIST = {}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    load_django_config()
    with caplog.at_level("INFO", logger="telephonist.django"):
        log_replaced_backends()
    assert (
        "CHANNEL_LAYERS names channels_redis.core.RedisChannelLayer: Telephonist's 'redis' "
        "layer serves it, with its CONFIG" in caplog.messages
    )
