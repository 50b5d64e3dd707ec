"""Smaller stand-ins for an inbound mail's content keys, so a mail is never lost to them.

``fallback_keys``: what the parser would give, from the raw text, when it crashed (it is
total by design; a bug must not turn an accepted mail into a lost one).
``slimmed``: the same event with less in it, for a layer that refused it as too large.
"""

from __future__ import annotations

from typing import Any

__all__ = ["fallback_keys", "slimmed"]


def fallback_keys(raw: bytes) -> dict[str, Any]:
    """Content keys for a message the parser crashed on: keep what we can, say so."""
    text = raw.decode("utf-8", "replace")[:65536]
    return {
        "subject": "", "message_id": None, "in_reply_to": None, "references": [],
        "date": None, "headers": [], "addresses": {"from": [], "to": [], "cc": [],
        "reply_to": []}, "user": "", "user_name": "", "plain": text, "html": None,
        "text": text, "attachments": [], "truncated": len(raw) > 65536,
        "defects": ["Unparseable"], "auto_submitted": False,
    }  # fmt: skip


def slimmed(event: dict[str, Any], stage: int) -> dict[str, Any] | None:
    """A smaller variant of an event the layer refused as too large, or None when
    there is nothing left to drop. Stage 1 drops attachment contents, stage 2 the HTML
    body and all but 16 KiB of the plain one."""
    slim = dict(event)
    if stage == 1:
        slim["attachments"] = [{**a, "content": None} for a in event["attachments"]]
        return slim
    if stage == 2:
        slim["html"] = None
        slim["plain"] = (event["plain"] or "")[:16384] or None
        slim["text"] = event["text"][:16384]
        slim["truncated"] = True
        return slim
    return None
