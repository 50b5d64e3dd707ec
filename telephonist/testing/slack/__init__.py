"""A Slack stand-in on loopback: the Web API, Socket Mode, ``response_url`` endpoints and
signed Events API requests, following Slack's documented wire formats.

Test a Slack app (Telephonist's ``slack`` interface, Bolt, plain slack-sdk) offline::

    async with SlackStandIn() as slack:
        client = AsyncWebClient(slack.team.bot_token, base_url=slack.api_url)
        alice = slack.add_user("alice")
        general = slack.add_channel("general")
        delivery = slack.message("hello", alice, general)   # over Socket Mode
        await delivery.acked()
        call = await slack.wait_for_call("chat.postMessage")

``running_app(slack, routing)`` runs the ``slack`` interface and a worker against it in
the same event loop; ``StandInThread`` serves it from a thread of its own for code that
is not asynchronous (a browser test, a development server), optionally with a page to
post as a Slack user by hand (``page=True``). See ``docs/slack.md`` ("Testing with the
stand-in") for the whole API. Needs the ``slack`` extra (aiohttp).
"""

from .app import SlackApp, running_app, settings_for
from .driver import SlackStandIn
from .oauth import Approval, OAuthStandIn
from .payloads import (
    block_actions,
    block_suggestion,
    shortcut,
    view_closed,
    view_submission,
)
from .server import ApiCall, ResponsePost
from .signing import form_body, sign, signed_request
from .socket import REASONS, Attempt, Delivery, Link
from .state import Channel, Team, User
from .thread import StandInThread

__all__ = [
    "REASONS",
    "ApiCall",
    "Approval",
    "Attempt",
    "Channel",
    "Delivery",
    "Link",
    "OAuthStandIn",
    "ResponsePost",
    "SlackApp",
    "SlackStandIn",
    "StandInThread",
    "Team",
    "User",
    "block_actions",
    "block_suggestion",
    "form_body",
    "running_app",
    "settings_for",
    "shortcut",
    "sign",
    "signed_request",
    "view_closed",
    "view_submission",
]
