"""Routing: which consumer answers which message (the 2016 Channels design).

``route(channels, consumer, **filters)`` sends messages on ``channels`` whose keys match
the ``filters`` regexes to ``consumer``; named groups become keyword arguments.
``route_class(ConsumerClass, **filters)`` does the same for a class-based consumer on
the channels it declares. ``include(routing, **prefix_filters)`` nests routing, stripping
the matched prefix. ``Router(routing)`` checks it all and matches messages.
What each protocol answers when nothing matches is in ``telephonist.routing.policies``.
"""

from ._router import Match, Router, RoutingError, load_routing
from ._routes import Include, Route, describe_callable, include, route, route_class
from .policies import ProtocolPolicy, register_protocol_policy

__all__ = [
    "Include",
    "Match",
    "ProtocolPolicy",
    "Route",
    "Router",
    "RoutingError",
    "describe_callable",
    "include",
    "load_routing",
    "register_protocol_policy",
    "route",
    "route_class",
]
