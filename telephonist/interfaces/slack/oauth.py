"""Installing the app in a workspace: Slack's OAuth v2 flow, as two pages on the HTTP port.

Theory of operation
-------------------
1. **Install page** (``install_path``, ``GET``): issues a ``state`` (the state store),
   sets it in a cookie on this browser and redirects (302) to Slack's authorize page
   with the client id, the scopes, the state and ``redirect_uri`` (slack-sdk's
   ``AuthorizeUrlGenerator``). The cookie is ``HttpOnly``, ``SameSite=Lax`` (it must
   come back on Slack's top-level redirect) and ``Secure`` when the page was served
   over HTTPS (directly, or through a trusted proxy's ``X-Forwarded-Proto``).
2. **Redirect page** (``redirect_uri_path``, ``GET``), where Slack sends the installer
   back with ``code`` and ``state`` (or ``error``). In order, each failure answered
   with slack-sdk's failure page and counted:

   * ``error`` (the installer cancelled): 403, ``oauth_denied``;
   * the state is not the one in this browser's cookie (CSRF, or another browser):
     400, ``oauth_invalid_browser``; not issued, used already or expired (the state
     store consumes it: single use): 400, ``oauth_invalid_state``;
   * no ``code``: 400, ``oauth_invalid_code``;
   * ``oauth.v2.access`` (slack-sdk's ``AsyncWebClient`` at ``api_url``, Basic auth with
     the client id and secret) refused by Slack: 400, ``oauth_exchange_refused``
     (Slack's code logged); not answered within ``api_timeout``: 502,
     ``oauth_exchange_failed``; then ``auth.test`` with the new bot token, for the
     bot's id, the same way;
   * the installation store failing to save: 500, ``oauth_store_failed``.

   Then the installation is saved, the workspace's token is used at once by this
   process (other servers find it in the store), and slack-sdk's success page (a
   redirect into Slack, or ``success_url``) answers 200: ``oauth_installs``.

Every refusal is also logged (once a minute per kind). Nothing here logs a token or
the client secret; the HTTP access log shows the redirect's query, whose ``code`` is
single use and exchanged at once.

Installs in progress are bounded: at most ``max_pending_installs`` states are
outstanding (beyond, the install page answers 503, ``oauth_busy``), and expired ones are
swept (``stores.py``), so a stream of visits to the install page cannot fill the disk
or the database.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import AuthorizeUrlGenerator, OAuthStateUtils, RedirectUriPageRenderer
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from .asgi import Receive, Scope, Send, header_map, send_answer
from .config import OAuthConfig
from .events_api import HttpAnswer
from .logs import Throttled
from .stores import TooManyStates

__all__ = ["OAuthFlow"]

_HTML = "text/html; charset=utf-8"
# The state goes into a file name in slack-sdk's file store: no separators, no dot first.
_STATE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,255}")
_UNREACHABLE = (aiohttp.ClientError, TimeoutError, OSError)


class _Failed(Exception):
    def __init__(self, status: int, reason: str, counter: str) -> None:
        super().__init__(reason)
        self.status, self.reason, self.counter = status, reason, counter


class OAuthFlow:
    def __init__(
        self, config: OAuthConfig, api_url: str, api_timeout: float,
        installations: AsyncInstallationStore, states: AsyncOAuthStateStore,
        session: Callable[[], aiohttp.ClientSession | None],
        installed: Callable[[Installation], None], count: Callable[[str], None],
        throttled: Throttled,
    ) -> None:  # fmt: skip
        self.config = config
        self.api_url = api_url
        self.api_timeout = api_timeout
        self.installations = installations
        self.states = states
        self._session = session
        self._installed = installed
        self._count = count
        self._log = throttled
        self.cookies = OAuthStateUtils(expiration_seconds=int(config.state_expiration))
        self.authorize = AuthorizeUrlGenerator(
            client_id=config.client_id, redirect_uri=config.redirect_uri, scopes=config.scopes,
            user_scopes=config.user_scopes, authorization_url=config.authorize_url,
        )  # fmt: skip
        self.pages = RedirectUriPageRenderer(
            install_path=config.install_path, redirect_uri_path=config.redirect_uri_path,
            success_url=config.success_url, failure_url=config.failure_url,
        )  # fmt: skip

    # -- the two pages ------------------------------------------------------------------

    async def install(self, https: bool) -> HttpAnswer:
        try:
            state = await asyncio.wait_for(self.states.async_issue(), self.config.store_timeout)
        except TooManyStates:
            return self._failure(_Failed(503, "too_many_installs_in_progress", "oauth_busy"))
        except Exception as exc:  # any store's own failure
            self._log(logging.ERROR, "oauth.state", "slack: could not issue an OAuth state: %r",
                      exc)  # fmt: skip
            return self._failure(_Failed(503, "state_store_unavailable", "oauth_store_failed"))
        self._count("oauth_started")
        cookie = (f"{self.cookies.cookie_name}={state}; {'Secure; ' if https else ''}HttpOnly; "
                  f"SameSite=Lax; Path=/; Max-Age={self.cookies.expiration_seconds}")  # fmt: skip
        return HttpAnswer(302, b"", headers={"Location": self.authorize.generate(state),
                                             "Set-Cookie": cookie,
                                             "Cache-Control": "no-store"})  # fmt: skip

    async def callback(self, query: Mapping[str, str], headers: Mapping[str, str]) -> HttpAnswer:
        try:
            installation = await self._finish(query, headers)
        except _Failed as failed:
            return self._failure(failed)
        self._installed(installation)
        self._count("oauth_installs")
        page = self.pages.render_success_page(
            app_id=installation.app_id or "", team_id=installation.team_id,
            is_enterprise_install=installation.is_enterprise_install,
            enterprise_url=installation.enterprise_url,
        )  # fmt: skip
        return HttpAnswer(200, page.encode(), _HTML, headers=self._forget_cookie())

    # -- steps --------------------------------------------------------------------------

    async def _finish(self, query: Mapping[str, str], headers: Mapping[str, str]) -> Installation:
        state = query.get("state", "")
        if not _STATE.fullmatch(state) or not self.cookies.is_valid_browser(state, dict(headers)):
            if "error" in query:
                raise _Failed(403, query["error"][:100], "oauth_denied")
            raise _Failed(400, "invalid_browser", "oauth_invalid_browser")
        try:
            valid = await asyncio.wait_for(self.states.async_consume(state),
                                           self.config.store_timeout)  # fmt: skip
        except Exception as exc:
            self._log(logging.ERROR, "oauth.state", "slack: OAuth state check failed: %r", exc)
            raise _Failed(503, "state_store_unavailable", "oauth_store_failed") from None
        if "error" in query:  # cancelled on Slack's page: its state is used up all the same
            raise _Failed(403, query["error"][:100], "oauth_denied")
        if not valid:
            raise _Failed(400, "invalid_state", "oauth_invalid_state")
        code = query.get("code", "")
        if not code:
            raise _Failed(400, "missing_code", "oauth_invalid_code")
        installation = await self._exchange(code)
        try:
            await asyncio.wait_for(self.installations.async_save(installation),
                                   self.config.store_timeout)  # fmt: skip
        except Exception as exc:
            self._log(logging.ERROR, "oauth.save", "slack: could not save the installation of "
                      "team %s: %r", installation.team_id, exc)  # fmt: skip
            raise _Failed(500, "storage_error", "oauth_store_failed") from None
        return installation

    async def _call(self, what: str, call: Any) -> dict[str, Any]:
        try:
            answer = await asyncio.wait_for(call, self.api_timeout)
        except SlackApiError as exc:
            code = exc.response.get("error") or f"http_{exc.response.status_code}"
            raise _Failed(400, f"{what}: {code}", "oauth_exchange_refused") from None
        except _UNREACHABLE as exc:
            self._log(logging.WARNING, f"oauth.{what}", "slack: %s failed: %r", what, exc)
            raise _Failed(502, "slack_unreachable", "oauth_exchange_failed") from None
        return dict(answer.data) if isinstance(answer.data, dict) else {}

    async def _exchange(self, code: str) -> Installation:
        client = AsyncWebClient(base_url=self.api_url, session=self._session())
        secret = self.config.client_secret.get_secret_value()
        got = await self._call("oauth.v2.access", client.oauth_v2_access(
            client_id=self.config.client_id, client_secret=secret, code=code,
            redirect_uri=self.config.redirect_uri,
        ))  # fmt: skip
        bot_token = got.get("access_token")
        bot_id = None
        if isinstance(bot_token, str) and bot_token:
            client.token = bot_token
            bot_id = (await self._call("auth.test", client.auth_test())).get("bot_id")
        team, enterprise = _dict(got.get("team")), _dict(got.get("enterprise"))
        user = _dict(got.get("authed_user"))
        webhook = _dict(got.get("incoming_webhook"))
        return Installation(
            app_id=got.get("app_id"), enterprise_id=enterprise.get("id"),
            enterprise_name=enterprise.get("name"), team_id=team.get("id"),
            team_name=team.get("name"), bot_token=bot_token, bot_id=bot_id,
            bot_user_id=got.get("bot_user_id"), bot_scopes=got.get("scope") or "",
            bot_refresh_token=got.get("refresh_token"),
            bot_token_expires_in=got.get("expires_in"), user_id=str(user.get("id", "")),
            user_token=user.get("access_token"), user_scopes=user.get("scope") or "",
            user_refresh_token=user.get("refresh_token"),
            user_token_expires_in=user.get("expires_in"),
            incoming_webhook_url=webhook.get("url"),
            incoming_webhook_channel=webhook.get("channel"),
            incoming_webhook_channel_id=webhook.get("channel_id"),
            incoming_webhook_configuration_url=webhook.get("configuration_url"),
            is_enterprise_install=bool(got.get("is_enterprise_install")),
            token_type=got.get("token_type"),
        )  # fmt: skip

    def _failure(self, failed: _Failed) -> HttpAnswer:
        self._count(failed.counter)
        self._log(logging.WARNING, failed.counter, "slack: OAuth install not completed (%s): %s",
                  failed.counter, failed.reason)  # fmt: skip
        page = self.pages.render_failure_page(failed.reason)
        return HttpAnswer(failed.status, page.encode(), _HTML, headers=self._forget_cookie())

    def _forget_cookie(self) -> dict[str, str]:
        return {"Set-Cookie": f"{self.cookies.cookie_name}=deleted; HttpOnly; SameSite=Lax; "
                              "Path=/; Max-Age=0"}  # fmt: skip

    # -- as ASGI apps on the HTTP port --------------------------------------------------

    def apps(self) -> dict[str, Any]:
        """``{path: ASGI app}`` for the two pages."""

        async def install(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            if scope.get("method") != "GET":
                await send_answer(send, _NOT_GET)
                return
            await send_answer(send, await self.install(scope.get("scheme") == "https"))

        async def redirect(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            if scope.get("method") != "GET":  # not HEAD either: it would use the state up
                await send_answer(send, _NOT_GET)
                return
            raw = bytes(scope.get("query_string", b"")).decode("latin-1")
            try:
                query = {k: v[0] for k, v in parse_qs(raw, max_num_fields=20).items()}
            except ValueError:
                await send_answer(send, self._failure(_Failed(400, "bad_request",
                                                              "oauth_invalid_code")))  # fmt: skip
                return
            await send_answer(send, await self.callback(query, header_map(scope)))

        return {self.config.install_path: install, self.config.redirect_uri_path: redirect}


_NOT_GET = HttpAnswer(405, b"GET only", headers={"Allow": "GET"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
