from chat import views
from django.urls import path

urlpatterns = [
    path("", views.index, name="index"),
    path("chat/<str:room>/", views.room, name="room"),
]
