"""``/sync`` and ``/async``: the views ``bench/http.py`` loads."""

from django.urls import path

from bench.webapp.views import async_view, sync_view

urlpatterns = [path("sync", sync_view), path("async", async_view)]
