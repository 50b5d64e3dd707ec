"""The bridge's history in the database (members and topics stay in memory).

``ChatBridge`` asks its store for a room's recent messages and finds messages by the
ids they have on each endpoint; here both are queries on ``ChatMessage``, bounded to
the room's last ``history_size`` rows (older rows are deleted as new ones come), so the
history survives a restart and every worker sees the same one.
"""

from __future__ import annotations

from typing import Any

from telephonist.consumers import MemoryStore
from telephonist.consumers.bridge_store import Entry

from .models import ChatMessage

_FIELDS = ("message_id", "kind", "text", "user", "user_id", "protocol", "timestamp",
           "reply_to", "thread_id", "native", "reactions", "edited", "deleted")  # fmt: skip


def _entry(row: ChatMessage) -> Entry:
    fields: dict[str, Any] = {name: getattr(row, name) for name in _FIELDS}
    return fields


class DatabaseStore(MemoryStore):
    def add(self, room: str, entry: Entry) -> None:
        ChatMessage.objects.create(room=room, **{k: entry[k] for k in _FIELDS})
        stale = ChatMessage.objects.filter(room=room).order_by("-id")[self.history_size :]
        ChatMessage.objects.filter(id__in=list(stale.values_list("id", flat=True))).delete()

    def update(self, room: str, entry: Entry) -> None:
        changes = {k: entry[k] for k in ("text", "reactions", "edited", "deleted")}
        ChatMessage.objects.filter(room=room, message_id=entry["message_id"]).update(**changes)

    def _rows(self, room: str, limit: int) -> list[ChatMessage]:
        rows = ChatMessage.objects.filter(room=room).order_by("-id")[:limit]
        return list(reversed(rows))

    def find(self, room: str, endpoint: int, native_id: str) -> Entry | None:
        key = str(endpoint)
        for row in reversed(self._rows(room, self.history_size)):
            if row.message_id == native_id or row.native.get(key) == native_id:
                return _entry(row)
        return None

    def recent(self, room: str, limit: int) -> list[Entry]:
        return [_entry(row) for row in self._rows(room, limit)] if limit > 0 else []
