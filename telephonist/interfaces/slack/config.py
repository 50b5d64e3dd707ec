"""Settings of the Slack interface (``[interfaces.slack]`` in ``telephonist.toml``).

Every size, rate and time has a bounded default; ``docs/slack.md`` lists them all.
Tokens and the signing secret are ``SecretStr``: shown masked by ``telephonist
interfaces`` and ``status``, never logged. They may come from the environment
(``TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN``). Several workspaces: ``teams`` maps a
team id to its own bot token; ``bot_token`` serves every other team (the usual
single-workspace app); ``oauth`` installs the app in any number of workspaces through
Slack's OAuth flow, their tokens kept in an installation store (``oauth.py``,
``stores.py``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..base import InterfaceConfig
from .ratelimit import TierLimit

__all__ = ["OAuthConfig", "SlackConfig", "TeamConfig"]

SLACK_API = "https://slack.com/api/"
SLACK_AUTHORIZE = "https://slack.com/oauth/v2/authorize"
DEFAULT_SCOPES = ("app_mentions:read", "channels:history", "channels:read", "chat:write",
                  "commands", "reactions:write", "users:read")  # fmt: skip


class TeamConfig(BaseModel):
    """One workspace with a token of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bot_token: SecretStr = Field(description="the workspace's bot token (xoxb-)")


def _path(value: str) -> str:
    if not value.startswith("/") or any(c in value for c in "?# "):
        raise ValueError(f"{value!r}: a path starting with '/'")
    return value


class OAuthConfig(BaseModel):
    """``[interfaces.slack.oauth]``: installing the app in workspaces through OAuth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1, description="the app's Client ID")
    client_secret: SecretStr = Field(description="the app's Client Secret")
    scopes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SCOPES), description="bot scopes asked for"
    )
    user_scopes: list[str] = Field(default_factory=list, description="user scopes asked for")
    install_path: str = Field("/slack/install", description="the page that starts an install")
    redirect_uri_path: str = Field(
        "/slack/oauth_redirect", description="the page Slack sends the installer back to"
    )
    redirect_uri: str | None = Field(
        None, description="public URL of redirect_uri_path (None: the app's configured one)"
    )
    authorize_url: str = Field(SLACK_AUTHORIZE, description="Slack's authorize page")
    success_url: str | None = Field(None, description="where a finished install goes")
    failure_url: str | None = Field(None, description="where a failed install goes")
    state_expiration: int = Field(
        600, ge=1, le=3600, description="seconds an install may take (state lifetime)"
    )
    max_pending_installs: int = Field(
        10_000, ge=1, le=1_000_000, description="installs in progress at once (states kept)"
    )
    installation_store: str = Field(
        "auto", description="auto, django, file, or a dotted path to a store factory"
    )
    state_store: str = Field(
        "auto", description="auto, django, file, or a dotted path to a state store factory"
    )
    directory: str = Field("slack-oauth", description="where the file stores keep their files")
    token_cache_ttl: float = Field(
        300.0, gt=0, le=86400, description="seconds a token found in the store is reused"
    )
    token_cache_size: int = Field(10_000, ge=1, description="workspaces' tokens kept in memory")
    store_timeout: float = Field(
        5.0, gt=0, le=60, description="seconds one installation or state store call may take"
    )

    @field_validator("install_path", "redirect_uri_path")
    @classmethod
    def _paths(cls, value: str) -> str:
        return _path(value)

    @field_validator("scopes")
    @classmethod
    def _some_scope(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a bot needs at least one scope")
        return value


def _default_tiers() -> dict[str, TierLimit]:
    # Slack's published minimums per minute, with small bursts; "special" is the
    # workspace-wide budget of chat.postMessage (its per-channel pace is post_interval).
    return {"1": TierLimit(1, 2), "2": TierLimit(20, 3), "3": TierLimit(50, 5),
            "4": TierLimit(100, 10), "special": TierLimit(300, 10)}  # fmt: skip


class SlackConfig(InterfaceConfig):
    # -- credentials and transports -------------------------------------------------------
    bot_token: SecretStr | None = Field(
        None, description="bot token (xoxb-) for the Web API; per workspace: teams"
    )
    app_token: SecretStr | None = Field(None, description="app-level token (xapp-), Socket Mode")
    signing_secret: SecretStr | None = Field(
        None, description="signing secret: verifies Events API requests over HTTP"
    )
    socket_mode: bool | None = Field(
        None, description="receive over Socket Mode (None: if app_token)"
    )
    events_path: str = Field("/slack/events", description="Events API path on the HTTP interface")
    api_url: str = Field(SLACK_API, description="Web API base URL (tests: the stand-in's)")
    teams: dict[str, TeamConfig] = Field(
        default_factory=dict, description="team id -> {bot_token = ...}, for several workspaces"
    )
    oauth: OAuthConfig | None = Field(
        None, description="install in workspaces through OAuth (tokens in an installation store)"
    )

    # -- inbound --------------------------------------------------------------------------
    ack_wait: float = Field(
        2.5, gt=0, lt=3, description="seconds a command waits for its consumer's ack payload"
    )
    send_timeout: float = Field(2.0, gt=0, le=10, description="seconds one layer send may take")
    dedup_ttl: float = Field(
        900.0, ge=600, description="seconds an event id is remembered against retries"
    )
    max_payload_bytes: int = Field(
        1024 * 1024, ge=4096, description="largest Socket Mode frame or HTTP body accepted"
    )
    lookup_timeout: float = Field(
        0.5, gt=0, lt=3, description="seconds to resolve user and channel names per event"
    )
    name_cache_size: int = Field(10_000, ge=1, description="user and channel names remembered")
    name_cache_ttl: float = Field(3600.0, gt=0, description="seconds a name is remembered")
    bot_messages: bool = Field(False, description="deliver other bots' messages (never our own)")
    announce_channels: int = Field(
        100, ge=0, le=1000,
        description="at start, the bot's channels (users.conversations) announced as its "
        "own slack.join events, at most this many per workspace (0: none)",
    )  # fmt: skip
    max_conversations: int = Field(
        10_000, ge=1, description="conversation reply channels kept (least recently used go)"
    )
    max_interactions: int = Field(
        10_000, ge=1, description="command and interaction reply channels open at once"
    )
    interaction_window: float = Field(
        1800.0, gt=0, le=1800, description="seconds a command's reply channel stays open"
    )

    # -- outbound -------------------------------------------------------------------------
    queue_size: int = Field(1000, ge=1, description="Web API calls queued per workspace")
    post_interval: float = Field(
        1.0, ge=0, description="seconds between chat.postMessage calls in one channel"
    )
    tiers: dict[str, TierLimit] = Field(
        default_factory=_default_tiers, description="per-minute rate and burst of each tier"
    )
    api_concurrency: int = Field(
        4, ge=1, le=64, description="Web API calls in flight per workspace"
    )
    api_timeout: float = Field(10.0, gt=0, description="seconds one Web API call may take")
    max_attempts: int = Field(
        5, ge=1, description="tries of a call Slack rate-limits (429) before it is dropped"
    )
    shared_rooms: bool | None = Field(
        None,
        description="a channel's reply channel is shared by every interface server, served "
        "by the one holding the workspace's poster lease (None: on over a layer shared "
        "between processes, off on the in-memory layer)",
    )
    poster_lease: float = Field(
        10.0, ge=0.5, le=60,
        description="seconds the workspace's poster lease lasts unrenewed (a dead poster's "
        "rooms are taken over within about this)",
    )  # fmt: skip

    # -- Socket Mode ----------------------------------------------------------------------
    connections: int = Field(1, ge=1, le=10, description="Socket Mode connections kept open")
    ping_interval: float = Field(10.0, gt=0, description="seconds between our WebSocket pings")
    stale_after: float = Field(
        30.0, gt=0, description="seconds without any frame or pong before a link is replaced"
    )
    hello_timeout: float = Field(10.0, gt=0, description="seconds a new link may take to say hello")
    reconnect_min: float = Field(0.5, gt=0, description="first reconnect delay (then doubling)")
    reconnect_max: float = Field(60.0, gt=0, description="longest reconnect delay")
    too_many_backoff: float = Field(
        30.0, gt=0, description="seconds to wait after too_many_websockets"
    )

    @field_validator("api_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("events_path")
    @classmethod
    def _events_path(cls, value: str) -> str:
        return _path(value)

    @model_validator(mode="after")
    def _check(self) -> SlackConfig:
        if self.socket_mode and self.app_token is None:
            raise ValueError("socket_mode needs app_token (an xapp- token)")
        if not self.uses_socket_mode and self.signing_secret is None:
            raise ValueError(
                "nothing to receive: set app_token (Socket Mode) or signing_secret (Events API)"
            )
        if self.bot_token is None and not self.teams and self.oauth is None:
            raise ValueError(
                "no bot token: set bot_token, teams.<team id>.bot_token, or oauth (installs)"
            )
        if self.oauth is not None:
            paths = [self.events_path, self.oauth.install_path, self.oauth.redirect_uri_path]
            if len(set(paths)) < len(paths):
                raise ValueError("events_path and the oauth pages need paths of their own")
        if "2" not in self.tiers:
            raise ValueError("tiers must define tier '2' (the default for other methods)")
        if self.reconnect_min > self.reconnect_max:
            raise ValueError("reconnect_min must not exceed reconnect_max")
        return self

    @property
    def uses_socket_mode(self) -> bool:
        return self.app_token is not None if self.socket_mode is None else self.socket_mode
