"""``SlackInterface``: Slack workspaces <-> the channel layer, through the interface host.

Theory of operation
-------------------
Inbound, two transports feed one :class:`~.intake.Intake`:

* Socket Mode (``socket_mode``, on when ``app_token`` is set): the
  :class:`~.supervisor.Supervisor` keeps ``connections`` links open and hands each
  envelope to :meth:`_on_envelope`, which acknowledges it on the link it came by, and
  only if the intake says so (the event is on the layer, or was a duplicate of one
  that is);
* the Events API over HTTP (``signing_secret``): :meth:`handle_http` takes one raw
  request (``events_api.py`` checks it) and returns the answer (200, 401, 503, ...);
  ``start`` mounts it at ``events_path`` on the HTTP interface's port (``asgi.py``),
  ``stop`` unmounts it once the drain is over (until then a request is answered 503,
  so Slack retries it elsewhere).

Outbound, messages on reply channels (``replies.py``) are planned (``actions.py``) and
carried out by :meth:`_execute`: Web API calls through the workspace's outbox
(``outbox.py``: bounded, paced by tier, per channel and by 429s), ``response_url``
posts through the :class:`~.respond.Responder`. With several interface servers on one
layer (``shared_rooms``), a channel's reply channel is shared by all of them and served
by the workspace's poster alone (``rooms.py``, ``lease.py``), so a line sent to a
room's group is posted once.

Counters (``host.count``): ``received``, ``duplicates``, ``duplicates_in_flight``,
``refused_full``, ``refused_too_large``, ``refused_unavailable``, ``refused_draining``,
``ignored_own``, ``ignored_bot``, ``acked``, ``ack_payloads``, ``ack_failed``,
``not_acked``, ``signature_missing``, ``signature_stale``, ``signature_bad``,
``malformed``, ``url_verifications``, ``api_calls``, ``api_errors``,
``api_error.<code>``, ``api_rate_limited``, ``api_dropped``, ``api_queue_full``,
``api_unreachable``, ``responded``, ``respond_refused``, ``respond_failed``,
``rejected`` (a reply that could not be carried out), ``chat_declined_<kind>`` and
``chat_fallback_<kind>`` (chat replies, ``chat_replies.py``), ``disconnect.<reason>``,
``links_closed``, ``links_stale``, ``frames_malformed``, ``poster_gained``,
``poster_lost``, ``room_notice_failed``, ``room_notice_malformed``,
``room_receive_errors``, ``errors``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from typing import Any, ClassVar

from slack_sdk.oauth.installation_store.models.installation import Installation

from ...chat import RateLimitedLog
from ...core.claims import CLAIMS, claims_of
from ...core.codec import Content
from ...core.memory import InMemoryChannelLayer
from ..base import Interface, InterfaceConfig, InterfaceHost
from ..mounts import App, mount, unmount
from . import spec
from .actions import Declined, Plan, Rejected, Respond, WebCall, plan_reply
from .announce import announce
from .asgi import events_app
from .chat_replies import is_slack_id
from .config import OAuthConfig, SlackConfig
from .dedup import Deduplicator
from .envelopes import Inbound, ack_frame
from .events_api import EventsEndpoint, HttpAnswer, answer
from .installations import Installations, Installed
from .intake import Intake
from .link import Link
from .logs import Throttled
from .mapping import Bot, Target
from .names import NameCache
from .oauth import OAuthFlow
from .replies import ReplyChannels
from .respond import Responder
from .rooms import SharedRooms
from .stores import open_stores
from .supervisor import Supervisor
from .workspaces import Workspaces

__all__ = ["SlackInterface"]

_PENDING_MARGIN = 5.0  # seconds a "pending" claim outlives the longest send


class SlackInterface(Interface):
    name = "slack"
    config_model: ClassVar[type[InterfaceConfig]] = SlackConfig
    event_channels = spec.EVENT_CHANNELS

    def __init__(self, config: InterfaceConfig, host: InterfaceHost) -> None:
        super().__init__(config, host)
        if not isinstance(config, SlackConfig):
            config = SlackConfig.model_validate(config.model_dump())
        self.settings: SlackConfig = config
        self.throttled = Throttled(self.log)
        self.declines = RateLimitedLog(self.log)
        self.workspaces = Workspaces(config, self._count, self.throttled)
        self.names = NameCache(config.name_cache_size, config.name_cache_ttl)
        self.responder = Responder(lambda: self.workspaces.session, config.api_timeout,
                                   2 * config.max_interactions, self._count,
                                   self.throttled)  # fmt: skip
        self.replies = ReplyChannels(host, self._execute, config.max_conversations,
                                     config.max_interactions,
                                     config.interaction_window)  # fmt: skip
        self.endpoint: EventsEndpoint | None = None
        if config.signing_secret is not None:
            secret = config.signing_secret.get_secret_value()
            self.endpoint = EventsEndpoint(secret, config.max_payload_bytes)
        self.intake: Intake | None = None
        self.supervisor: Supervisor | None = None
        self.oauth: OAuthFlow | None = None
        self.stores = ""  # which installation and state stores (status)
        self._mounted: list[tuple[str, App]] = []
        self._announcing: asyncio.Future[None] | None = None

    def _count(self, name: str, n: int = 1) -> None:
        self.host.count(name, n)

    # -- Interface contract ---------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # The server stops only interfaces that started: release what this one opened.
            if self.supervisor is not None:
                await self.supervisor.stop(0)
            await self.workspaces.stop(0)
            if self.replies.shared is not None:
                await self.replies.shared.stop()
                await self.replies.shared.release()
            self._unmount()
            raise

    async def _start(self) -> None:
        cfg = self.settings
        if cfg.oauth is not None:
            self._start_oauth(cfg.oauth)
        await self.workspaces.start()
        if CLAIMS not in getattr(self.host.layer, "extensions", ()):
            self.log.warning("slack: the layer has no shared claims; retries are de-duplicated "
                             "within this process only")  # fmt: skip
        dedup = Deduplicator(claims_of(self.host.layer), cfg.send_timeout + _PENDING_MARGIN,
                             cfg.dedup_ttl)  # fmt: skip
        shared = cfg.shared_rooms
        if shared is None:  # one process on the in-memory layer: one server, nothing to share
            shared = not isinstance(self.host.layer, InMemoryChannelLayer)
        if shared:
            me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
            self.replies.shared = SharedRooms(self.host.layer, claims_of(self.host.layer), me,
                                              cfg.poster_lease, cfg.max_conversations,
                                              self._room_reply, self.names, self._count,
                                              self.throttled)  # fmt: skip
        self.intake = Intake(self.host, cfg, self.workspaces, self.names, dedup, self.replies,
                             self.throttled, self.responder.uses.seen)  # fmt: skip
        if self.endpoint is not None:
            app = events_app(self.handle_http, cfg.max_payload_bytes, self._count)
            self._mount(cfg.events_path, app)
        if cfg.uses_socket_mode:
            self.supervisor = Supervisor(cfg, lambda: self.workspaces.session,
                                         self._on_envelope, self._count,
                                         self.throttled)  # fmt: skip
            await self.supervisor.start()
        self._announcing = asyncio.ensure_future(self._announce())

    async def _announce(self) -> None:
        """The bot's own joins of its channels (``announce.py``)."""
        cfg = self.settings
        for team, bot in self.workspaces.known_bots().items():
            outbox = self.workspaces.outbox(team)
            if outbox is not None:
                await announce(team, bot, outbox, self.names, self.replies,
                               cfg.announce_channels, cfg.api_timeout, self._count,
                               self.throttled)  # fmt: skip

    async def stop(self, drain_timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        if self.intake is not None:
            self.intake.draining = True  # from now on nothing new is acknowledged
        if self._announcing is not None:
            self._announcing.cancel()
        if self.supervisor is not None:
            await self.supervisor.stop(drain_timeout)
        if self.replies.shared is not None:  # before the outboxes drain what it handed them
            await self.replies.shared.stop()
        remaining = max(0.0, deadline - loop.time())
        await self.responder.stop(remaining)
        await self.workspaces.stop(max(0.0, deadline - loop.time()))
        if self.replies.shared is not None:
            await self.replies.shared.release()
        self.replies.close_all()
        self._unmount()

    def _start_oauth(self, oauth: OAuthConfig) -> None:
        installations, states, self.stores = open_stores(oauth)
        self.workspaces.installations = Installations(
            installations, oauth.token_cache_ttl, oauth.token_cache_size, oauth.store_timeout,
            self._count, self.throttled,
        )  # fmt: skip
        self.oauth = OAuthFlow(oauth, self.settings.api_url, self.settings.api_timeout,
                               installations, states, lambda: self.workspaces.session,
                               self._on_installed, self._count, self.throttled)  # fmt: skip
        for path, app in self.oauth.apps().items():
            self._mount(path, app)

    def _on_installed(self, installation: Installation) -> None:
        team, token = installation.team_id, installation.bot_token
        self.log.info("slack: installed in team %s (%s)", team, installation.team_name)
        if team and token:  # an org-wide install has no team: its teams ask the store
            bot = Bot(installation.bot_user_id or "", installation.bot_id)
            self.workspaces.installed(team, Installed(token, bot))

    def _mount(self, path: str, app: App) -> None:
        mount(path, app)  # another app on the path: a configuration error, raised at start
        self._mounted.append((path, app))

    def _unmount(self) -> None:
        for path, app in self._mounted:
            unmount(path, app)
        self._mounted.clear()

    def endpoints(self) -> list[str]:
        out = []
        if self.supervisor is not None:
            out.append(f"socket mode ({self.settings.connections} connection(s)) via "
                       f"{self.settings.api_url}")  # fmt: skip
        if self.endpoint is not None:
            out.append(f"events api at {self.settings.events_path} on the http interface")
        if self.settings.oauth is not None:
            out.append(f"oauth install at {self.settings.oauth.install_path} on the http "
                       f"interface; installations: {self.stores}")  # fmt: skip
        return out

    def status(self) -> dict[str, Any]:
        return {
            "socket_mode": self.supervisor.status() if self.supervisor else None,
            "workspaces": self.workspaces.status(),
            "reply_channels": self.replies.counts(),
            "names_cached": len(self.names),
            "shared_rooms": None if self.replies.shared is None else self.replies.shared.status(),
            "oauth": None
            if self.oauth is None
            else {
                "stores": self.stores,
                "tokens_cached": len(self.workspaces.installations or ()),
                "paths": [self.settings.oauth.install_path, self.settings.oauth.redirect_uri_path]
                if self.settings.oauth
                else [],
            },
        }

    # -- inbound --------------------------------------------------------------------------

    async def _on_envelope(self, link: Link, inbound: Inbound) -> None:
        assert self.intake is not None
        assert inbound.envelope_id is not None
        outcome = await self.intake.take(inbound)
        if not outcome.ack:
            result = "not_acked"
        else:
            payload = outcome.payload if inbound.accepts_ack_payload else None
            sent = await link.send(ack_frame(inbound.envelope_id, payload))
            result = "acked" if sent else "ack_failed"
        link.outcomes[result] += 1
        self._count(result)
        if result == "ack_failed":  # the link died: Slack redelivers, the claim dedups
            self.throttled(logging.WARNING, "ack_failed",
                           "slack: ack for %s could not be sent", inbound.envelope_id)  # fmt: skip

    async def handle_http(self, method: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        """Answer one Events API request (``events_api.py``)."""
        if self.endpoint is None or self.intake is None:
            return HttpAnswer(404, b"the Events API is not configured (signing_secret)")
        checked = self.endpoint.check(method, headers, body)
        if isinstance(checked, HttpAnswer):
            if checked.counter:
                self._count(checked.counter)
            if checked.status == 401:
                why = "slack: Events API request refused: %s"
                self.throttled(logging.WARNING, "http_401", why, checked.counter)
            return checked
        return answer(await self.intake.take(checked))

    def _addressed(self, plan: WebCall, team: str) -> WebCall | Rejected:
        """A private chat reply's ``to`` as a user id: a name is one seen lately."""
        user = plan.params.get("user")
        if plan.method != "chat.postEphemeral" or not isinstance(user, str) or is_slack_id(user):
            return plan
        found = self.names.user_id_of(team, user)
        if found is None:
            return Rejected(f"private reply to {user[:40]!r}: no such user seen")
        return WebCall(plan.method, {**plan.params, "user": found}, plan.channel, plan.counter)

    # -- outbound -------------------------------------------------------------------------

    async def _room_reply(self, target: Target, message: Content) -> None:
        """A message on a shared room's reply channel (``rooms.py``), on the poster."""
        await self._execute(plan_reply(message, target, False), target)

    async def _execute(self, plan: Plan, target: Target) -> None:
        if isinstance(plan, Declined):
            self._count(f"chat_declined_{plan.kind}")
            why = "slack: declined a chat %s reply: Slack cannot do it and it has no fallback"
            self.declines.warning(f"declined:{plan.kind}", why, plan.kind)
            return
        if isinstance(plan, WebCall):
            await self.workspaces.resolve(target.team)  # an OAuth install's token (cached)
            outbox = self.workspaces.outbox(target.team)
            plan = self._addressed(plan, target.team)
            if isinstance(plan, WebCall) and outbox is None:
                plan = Rejected(f"no bot token for team {target.team}")
            elif isinstance(plan, WebCall) and outbox is not None:
                outbox.submit(plan.method, plan.params, plan.channel)
                if plan.counter:
                    self._count(plan.counter)
                return
        if isinstance(plan, Respond):
            self.responder.post(plan.url, plan.body)
            return
        # A Rejected, or an Ack outside an acknowledgement (plan_reply never makes one).
        reason = plan.reason if isinstance(plan, Rejected) else "late_ack"
        self._count("rejected")
        self.throttled(logging.WARNING, f"rejected.{reason[:40]}",
                       "slack: reply not carried out: %s", reason)  # fmt: skip
