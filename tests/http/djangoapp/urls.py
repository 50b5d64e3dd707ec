from django.urls import path

from . import views

urlpatterns = [
    path("hello", views.hello),
    path("ahello", views.ahello),
    path("count", views.count),
    path("login", views.do_login),
    path("whoami", views.whoami),
    path("protected", views.protected),
    path("stream", views.stream),
    path("astream", views.astream),
    path("download", views.download),
    path("upload", views.upload),
    path("meta/é", views.meta),
    path("body", views.echo_body),
    path("adownload", views.adownload),
    path("acount", views.acount),
    path("probe/await", views.await_mark),
    path("probe/marks", views.marks),
    path("probe/ahang", views.ahang),
    path("probe/astream", views.astream_hang),
    path("probe/stream", views.stream_forever),
    path("probe/shang", views.shang),
    path("probe/go", views.go),
    path("probe/disconnects", views.disconnects),
]
