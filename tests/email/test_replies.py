"""Reply channels: threaded replies, RFC 3834 suppression, bounds. Unit level: the host
side is a recording double (the end-to-end tests use the real host)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from telephonist.interfaces.base import ABORT, ReplyHandler
from telephonist.interfaces.email.compose import OutboundMail, ReplyContext
from telephonist.interfaces.email.replies import CLOSED, ReplyRegistry
from telephonist.spec.completion import DONE


class _Host:
    def __init__(self) -> None:
        self.handlers: dict[str, ReplyHandler] = {}
        self.closed: list[str] = []
        self.counters: Counter[str] = Counter()

    async def open_reply_channel(self, handler: ReplyHandler, prefix: str = "") -> str:
        name = f"srv.x!{prefix}.{len(self.handlers)}"
        self.handlers[name] = handler
        return name

    def close_reply_channel(self, channel: str) -> None:
        self.closed.append(channel)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n


CTX = ReplyContext("support@example.org", "ann@example.com", "Help", "<m1@x>", ())


def registry(host: _Host, sent: list[OutboundMail], **kw: Any) -> ReplyRegistry:
    def submit(mail: OutboundMail) -> bool:
        sent.append(mail)
        return True

    options = {"window": 60.0, "max_open": 10, "max_replies": 3, **kw}
    return ReplyRegistry(host, submit, **options)  # type: ignore[arg-type]


async def test_reply_then_limit_then_closed() -> None:
    host, sent = _Host(), []
    reg = registry(host, sent)
    channel = await reg.open(CTX)
    for i in range(5):
        host.handlers[channel]({"text": f"r{i}"})
    assert len(sent) == 3  # max_replies
    # Closed for replies, but still waiting for the consumer's completion (the SMTP
    # answer may depend on it); the completion closes it.
    assert host.closed == []
    host.handlers[channel]({"type": DONE, "outcome": "consumed"})
    assert host.closed == [channel]
    assert await reg.completion(channel) == CLOSED  # forgotten: nothing to wait for
    assert host.counters["reply_limit"] == 1
    assert sent[0].recipients == ("ann@example.com",)


async def test_bounces_and_robots_get_no_reply() -> None:
    host, sent = _Host(), []
    reg = registry(host, sent)
    channel = await reg.open(ReplyContext("a@example.org", None, "x", None, (), "bounce"))
    host.handlers[channel]({"text": "hello?"})
    assert sent == []
    assert host.counters["reply_suppressed"] == 1


async def test_abort_and_close_and_eviction() -> None:
    host, sent = _Host(), []
    reg = registry(host, sent, max_open=2)
    first = await reg.open(CTX)
    second = await reg.open(CTX)
    third = await reg.open(CTX)  # evicts the oldest
    assert host.closed == [first]
    host.handlers[second]({"type": ABORT, "reason": "worker gone"})
    host.handlers[third]({"text": "bye", "close": True})
    host.handlers[third]({"type": DONE, "outcome": "consumed"})
    assert host.closed == [first, second, third]
    assert len(sent) == 1
    assert len(reg) == 0


async def test_completion_resolves_and_closes_unless_kept() -> None:
    host, sent = _Host(), []
    reg = registry(host, sent)
    channel = await reg.open(CTX)
    done = reg.completion(channel)
    host.handlers[channel]({"text": "thanks"})
    host.handlers[channel]({"type": DONE, "outcome": "error"})
    assert await reg.wait_done(channel, done, 1.0) == "error"
    assert host.closed == [channel]
    assert len(reg) == 0
    assert len(sent) == 1
    reg.keep = True  # keep_reply_channels: a later reply still goes out
    kept = await reg.open(CTX)
    host.handlers[kept]({"type": DONE, "outcome": "consumed"})
    host.handlers[kept]({"text": "later"})
    assert len(reg) == 1
    assert len(sent) == 2
    never = await reg.open(CTX)
    assert await reg.wait_done(never, reg.completion(never), 0.01) == "timeout"
    assert never in host.closed


async def test_bad_reply_is_counted_not_raised() -> None:
    host, sent = _Host(), []
    reg = registry(host, sent)
    channel = await reg.open(CTX)
    host.handlers[channel]({"text": "x", "cc": "not an address"})
    assert sent == []
    assert host.counters["reply_invalid"] == 1


def _mail(sent: OutboundMail) -> Any:
    from email import message_from_bytes, policy

    return message_from_bytes(sent.data, policy=policy.default)


async def test_chat_reply_kinds_in_mail() -> None:
    """The chat contract on mail: relayed messages are attributed in From, actions read
    ``* user text``, reply_to threads, and what mail cannot do falls back or is declined."""
    host, sent = _Host(), []
    reg = registry(host, sent, max_replies=10)
    channel = await reg.open(CTX)
    host.handlers[channel]({"text": "line one\nline two", "user": "ann", "protocol": "irc"})
    host.handlers[channel]({"text": "waves", "kind": "action", "user": "bob"})
    host.handlers[channel]({"text": "re", "reply_to": "<m0@x>"})
    reaction = {"kind": "reaction", "emoji": "👍", "reply_to": "<m1@x>", "user": "cy"}
    host.handlers[channel](reaction)
    host.handlers[channel]({**reaction, "fallback": "reacted 👍"})
    host.handlers[channel]({"kind": "delete", "message_id": "<m1@x>"})
    mails = [_mail(m) for m in sent]
    assert [m["From"].addresses[0].display_name for m in mails] == ["ann (irc)", "bob", "", "cy"]
    assert {m["From"].addresses[0].addr_spec for m in mails} == {"support@example.org"}
    assert mails[0].get_content().splitlines() == ["line one", "line two"]
    assert mails[1].get_content().strip() == "* bob waves"
    assert (mails[2]["In-Reply-To"], mails[0]["In-Reply-To"]) == ("<m0@x>", "<m1@x>")
    assert mails[3].get_content().strip() == "* cy reacted 👍"
    assert host.counters["chat_declined_reaction"] == 1
    assert host.counters["chat_fallback_reaction"] == 1
    assert host.counters["chat_declined_delete"] == 1


async def test_reply_window_closes_each_channel_in_turn() -> None:
    """One timer for the oldest channel serves them all (opening order is window order)."""
    host, sent = _Host(), []
    reg = registry(host, sent, window=0.0)
    first, second = await reg.open(CTX), await reg.open(CTX)
    async with asyncio.timeout(5):
        assert await reg.completion(second) == CLOSED
        assert await reg.completion(first) == CLOSED
        assert host.closed == [first, second]
        third = await reg.open(CTX)  # a timer again once the registry was empty
        assert await reg.completion(third) == CLOSED
    assert len(reg) == 0
