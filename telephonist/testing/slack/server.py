"""``SlackStandIn``: a Slack that runs on loopback, for tests and offline development.

It serves, on one aiohttp server bound to 127.0.0.1:

* the Web API at ``/api/<method>`` (``webapi.py``): GET or POST, parameters from the
  query string, a form or a JSON body, the token from ``Authorization: Bearer`` (or a
  ``token`` parameter outside JSON bodies, as Slack allows). Errors are HTTP 200 with
  ``{"ok": false, "error": ...}``; a forced rate limit is HTTP 429 with ``Retry-After``
  and ``{"ok": false, "error": "ratelimited"}``;
* Socket Mode at ``/link/`` (``socket.py``), URLs handed out by ``apps.connections.open``;
* ``response_url`` endpoints at ``/response/<id>``: each accepts 5 posts within 30
  minutes, as Slack's do, then answers 404 with ``used_url`` / ``expired_url``;
* OAuth v2 (``oauth.py``): the authorize page at ``/oauth/v2/authorize``
  (``authorize_url``) and ``oauth.v2.access`` among the Web API methods.

Point real slack-sdk clients at it: ``AsyncWebClient(token, base_url=standin.api_url)``.
Everything the app did is recorded (``calls``, ``responses``, each link's ``received``
frames) and can be waited for without sleeping (``wait_for_call``, ``wait_until``).
The payload builders and pushers (``message``, ``command``, ``interaction``, ...) live in
``SlackDriver`` (``driver.py``), which this class extends.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .oauth import OAuthStandIn
from .socket import SocketMode
from .state import Channel, StandInState, Team, User, new_id
from .webapi import WebApi

__all__ = ["ApiCall", "ResponsePost", "StandInServer"]

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = 1800.0


@dataclass
class ApiCall:
    """One Web API request the app made."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int  # HTTP status answered
    response: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    http_method: str
    content_type: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class ResponsePost:
    """One post to a ``response_url``."""

    url: str
    body: Any
    status: int
    at: float


@dataclass
class _ResponseUrl:
    team_id: str
    channel_id: str | None
    created: float
    uses: int = 0


class StandInServer:
    """The server half of the stand-in: see the module docstring."""

    def __init__(
        self,
        *,
        ack_timeout: float = 3.0,
        max_retries: int = 3,
        refresh_grace: float = 10.0,
        max_connections: int = 10,
        trigger_lifetime: float = 3.0,
        port: int = 0,
    ) -> None:
        self.app_id = new_id("A")
        self.app_token = f"xapp-1-{self.app_id}-{secrets.randbelow(10**12)}-{secrets.token_hex(16)}"
        self.signing_secret = secrets.token_hex(16)
        self.trigger_lifetime = trigger_lifetime
        self.state = StandInState(self.app_id, self.app_token)
        self.team = self.add_team("standin")
        self.socket = SocketMode(self.app_id, ack_timeout=ack_timeout, max_retries=max_retries,
                                 refresh_grace=refresh_grace,
                                 max_connections=max_connections)  # fmt: skip
        self.web = WebApi(self.state, self.socket.issue_url)
        self.oauth = OAuthStandIn(self.app_id, self.add_team,
                                  lambda name, team: self.add_user(name, team=team))  # fmt: skip
        self.calls: list[ApiCall] = []
        self.responses: list[ResponsePost] = []
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._limits: dict[str, list[float]] = {}  # method -> Retry-After of the next 429s
        self._runner: web.AppRunner | None = None
        self.port = port  # 0: a free one, chosen at start
        self._route_adders: list[Callable[[web.Application], None]] = []

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorize_url(self) -> str:
        """Slack's OAuth authorize page, here (``oauth.authorize_url`` of the app)."""
        return f"{self.base_url}/oauth/v2/authorize"

    @property
    def api_url(self) -> str:
        """The Web API base URL for slack-sdk's ``base_url`` (the trailing slash matters)."""
        return f"{self.base_url}/api/"

    async def start(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self.socket.handle)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/oauth/v2/authorize", self.oauth.authorize)
        for add in self._route_adders:
            add(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        self.socket.base_url = f"ws://127.0.0.1:{self.port}"

    def add_routes(self, add: Callable[[web.Application], None]) -> None:
        """Serve more (``add(app)`` adds routes) from the next ``start`` on."""
        self._route_adders.append(add)

    async def stop(self) -> None:
        await self.socket.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- workspaces -----------------------------------------------------------------------

    def add_team(self, domain: str, bot_name: str = "telephonist-bot") -> Team:
        """Another workspace with the app installed (its own bot token and bot user)."""
        token = f"xoxb-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}"
        return self.state.add_team(new_id("T"), domain, token, bot_name)

    def add_user(
        self, name: str, *, real_name: str = "", display_name: str = "", team: Team | None = None,
        is_bot: bool = False,
    ) -> User:  # fmt: skip
        team = team or self.team
        user = User(new_id("U"), team.id, name, real_name or name, display_name, is_bot,
                    new_id("B") if is_bot else None)  # fmt: skip
        team.users[user.id] = user
        return user

    def add_channel(
        self, name: str, *, team: Team | None = None, private: bool = False, im: bool = False
    ) -> Channel:
        team = team or self.team
        channel = Channel(new_id("D" if im else ("G" if private else "C")), name, im, private)
        team.channels[channel.id] = channel
        return channel

    # -- rate limits ----------------------------------------------------------------------

    def rate_limit(self, method: str, retry_after: float = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and
        ``Retry-After: retry_after`` (whole seconds on the wire, as Slack sends)."""
        self._limits.setdefault(method, []).extend([retry_after] * times)

    # -- observing ------------------------------------------------------------------------

    def calls_to(self, method: str, ok: bool | None = None) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    async def wait_until(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait (no polling) until ``predicate()`` is truthy; return its value."""
        async with asyncio.timeout(within):
            while True:
                changed = self.socket.changed
                value = predicate()
                if value:
                    return value
                await changed.wait()

    async def wait_for_call(
        self, method: str, where: Callable[[ApiCall], bool] | None = None, *, count: int = 1,
        within: float = 10.0,
    ) -> ApiCall:  # fmt: skip
        """The ``count``-th call of ``method`` (matching ``where``) once it was made."""

        def found() -> ApiCall | None:
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            return matching[count - 1] if len(matching) >= count else None

        result: ApiCall = await self.wait_until(found, within)
        return result

    # -- HTTP handlers --------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        token: str | None = None
        content_type = request.content_type
        if request.method == "POST" and request.can_read_body:
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    return _json({"ok": False, "error": "invalid_json"})
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
                token = params.pop("token", None)
        else:
            token = params.pop("token", None)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :].strip()
        now = time.monotonic()
        limits = self._limits.get(method)
        if limits:
            retry_after = limits.pop(0)
            answer: dict[str, Any] = {"ok": False, "error": "ratelimited"}
            self._record(ApiCall(method, params, token, 429, answer, now, request.method,
                                 content_type))  # fmt: skip
            return _json(answer, 429, {"Retry-After": str(max(0, round(retry_after)))})
        if method == "oauth.v2.access":  # client credentials, not a token
            answer = self.oauth.access(params, request.headers.get("Authorization", ""))
            token = None
        else:
            answer = self.web.call(method, params, token)
        self._record(ApiCall(method, params, token, 200, answer, now, request.method,
                             content_type))  # fmt: skip
        return _json(answer)

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self.socket._changed()

    def new_response_url(self, team: Team, channel_id: str | None) -> str:
        key = secrets.token_hex(12)
        self._response_urls[key] = _ResponseUrl(team.id, channel_id, time.monotonic())
        return f"{self.base_url}/response/{key}"

    async def _response(self, request: web.Request) -> web.Response:
        url = f"{self.base_url}/response/{request.match_info['id']}"
        record = self._response_urls.get(request.match_info["id"])
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        answer: dict[str, Any] = {"ok": True}
        status = 200
        if record is None:
            status, answer = 404, {"ok": False, "error": "no_such_url"}
        elif time.monotonic() - record.created > RESPONSE_URL_LIFETIME:
            status, answer = 404, {"ok": False, "error": "expired_url"}
        elif record.uses >= RESPONSE_URL_USES:
            status, answer = 404, {"ok": False, "error": "used_url"}
        elif not isinstance(body, dict):
            status, answer = 400, {"ok": False, "error": "invalid_payload"}
        else:
            record.uses += 1
        self.responses.append(ResponsePost(url, body, status, time.monotonic()))
        self.socket._changed()
        return _json(answer, status)


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)
