"""Slack's half of OAuth v2 in the stand-in: the authorize page and ``oauth.v2.access``.

Slack's flow (docs: installing with OAuth): the app sends the installer's browser to
``/oauth/v2/authorize?client_id&scope&user_scope&state&redirect_uri&team``; the
installer approves, and Slack redirects the browser to the app's redirect URL with
``code`` and ``state`` (or ``error=access_denied``); the app exchanges the code with
``oauth.v2.access`` (client id and secret by HTTP Basic auth, or as form fields) for
the workspace's bot token.

Here the installer is scripted: :meth:`OAuthStandIn.approve_next` says who approves
the next authorization (a workspace and a user; by default a new workspace and its
installer) or that they cancel. The authorize page answers at once with the 302, so
a test follows the install with any HTTP client that follows redirects. Codes are
single use and live 10 minutes; a ``redirect_uri`` given to the authorize page must be
given again, the same, to the exchange. Errors are Slack's: the authorize page
answers 400 with ``invalid_client_id``, ``bad_redirect_uri`` or ``invalid_scope``;
``oauth.v2.access`` answers ``invalid_client_id``, ``bad_client_secret``,
``invalid_code``, ``bad_redirect_uri``.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from .state import Team, User, new_id

__all__ = ["Approval", "OAuthStandIn"]

CODE_LIFETIME = 600.0


@dataclass(frozen=True)
class Approval:
    team: Team | None = None  # None: a new workspace
    user: User | None = None  # None: a new user of the workspace
    deny: bool = False


@dataclass
class _Grant:
    team: Team
    user: User
    scopes: str
    user_scopes: str
    redirect_uri: str | None
    expires: float


class OAuthStandIn:
    def __init__(
        self, app_id: str, add_team: Callable[[str], Team], add_user: Callable[[str, Team], User]
    ) -> None:
        self.app_id = app_id
        self.client_id = f"{secrets.randbelow(10**12)}.{secrets.randbelow(10**12)}"
        self.client_secret = secrets.token_hex(16)
        #: The app's configured Redirect URLs; a redirect_uri must start with one of them.
        self.redirect_urls: list[str] = []
        self.installed: list[Team] = []  # every workspace a code was exchanged for
        self._add_team = add_team
        self._add_user = add_user
        self._next: list[Approval] = []
        self._grants: dict[str, _Grant] = {}
        self._seq = 0

    def approve_next(
        self, team: Team | None = None, user: User | None = None, *, deny: bool = False
    ) -> None:
        """Who answers the next authorization (queued, in order)."""
        self._next.append(Approval(team, user, deny))

    def _redirect(self, given: str | None) -> str | None:
        if given:
            allowed = not self.redirect_urls or any(given.startswith(u) for u in self.redirect_urls)
            return given if allowed and given.startswith(("http://", "https://")) else None
        return self.redirect_urls[0] if self.redirect_urls else None

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        target = self._redirect(q.get("redirect_uri"))
        if target is None:
            return web.Response(status=400, text="bad_redirect_uri")
        if not q.get("scope") and not q.get("user_scope"):
            return web.Response(status=400, text="invalid_scope")
        approval = self._next.pop(0) if self._next else Approval()
        back: dict[str, str] = {}
        if approval.deny:
            back["error"] = "access_denied"
        else:
            self._seq += 1
            team = approval.team or self._add_team(f"workspace{self._seq}")
            user = approval.user or self._add_user(f"installer{self._seq}", team)
            code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
            self._grants[code] = _Grant(team, user, q.get("scope", ""), q.get("user_scope", ""),
                                        q.get("redirect_uri") or None,
                                        time.monotonic() + CODE_LIFETIME)  # fmt: skip
            back["code"] = code
        if "state" in q:
            back["state"] = q["state"]
        glue = "&" if "?" in target else "?"
        raise web.HTTPFound(target + glue + urlencode(back))

    def access(self, params: dict[str, Any], authorization: str) -> dict[str, Any]:
        """``oauth.v2.access``'s answer to ``params`` and the ``Authorization`` header."""
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if authorization.startswith("Basic "):
            try:
                pair = base64.b64decode(authorization[6:], validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return {"ok": False, "error": "invalid_client_id"}
            client_id, _, secret = pair.partition(":")
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant = self._grants.pop(str(params.get("code", "")), None)
        if grant is None or time.monotonic() > grant.expires:
            return {"ok": False, "error": "invalid_code"}
        if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        team, bot = grant.team, grant.team.bot_user
        self.installed.append(team)
        answer: dict[str, Any] = {
            "ok": True, "app_id": self.app_id, "access_token": team.bot_token,
            "token_type": "bot", "scope": grant.scopes, "bot_user_id": bot.id,
            "team": {"id": team.id, "name": team.domain}, "enterprise": None,
            "is_enterprise_install": False, "authed_user": {"id": grant.user.id},
        }  # fmt: skip
        if grant.user_scopes:
            answer["authed_user"].update(scope=grant.user_scopes, token_type="user",
                                         access_token=f"xoxp-{new_id('')}")  # fmt: skip
        return answer
