"""Settings of the Slack interface (``[interfaces.slack]`` in ``telephonist.toml``).

Every size, rate and time has a bounded default; ``docs/slack.md`` lists them all.
Tokens and the signing secret are ``SecretStr``: shown masked by ``telephonist
interfaces`` and ``status``, never logged. They may come from the environment
(``TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN``). Several workspaces: ``teams`` maps a
team id to its own bot token; ``bot_token`` serves every other team (the usual
single-workspace app). An OAuth installation store will add teams at run time the same
way (``workspaces.py``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..base import InterfaceConfig
from .ratelimit import TierLimit

__all__ = ["SlackConfig", "TeamConfig"]

SLACK_API = "https://slack.com/api/"


class TeamConfig(BaseModel):
    """One workspace with a token of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bot_token: SecretStr = Field(description="the workspace's bot token (xoxb-)")


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
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("events_path must start with '/'")
        return value

    @model_validator(mode="after")
    def _check(self) -> SlackConfig:
        if self.socket_mode and self.app_token is None:
            raise ValueError("socket_mode needs app_token (an xapp- token)")
        if not self.uses_socket_mode and self.signing_secret is None:
            raise ValueError(
                "nothing to receive: set app_token (Socket Mode) or signing_secret (Events API)"
            )
        if self.bot_token is None and not self.teams:
            raise ValueError("no bot token: set bot_token, or teams.<team id>.bot_token")
        if "2" not in self.tiers:
            raise ValueError("tiers must define tier '2' (the default for other methods)")
        if self.reconnect_min > self.reconnect_max:
            raise ValueError("reconnect_min must not exceed reconnect_max")
        return self

    @property
    def uses_socket_mode(self) -> bool:
        return self.app_token is not None if self.socket_mode is None else self.socket_mode
