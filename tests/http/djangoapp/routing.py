"""The routing ``telephonist run`` uses in the Django tests: every HTTP request to
Django's views."""

from telephonist.django.views import DjangoViewConsumer
from telephonist.routing import route_class

routes = [route_class(DjangoViewConsumer)]
