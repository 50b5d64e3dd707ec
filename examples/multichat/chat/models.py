from __future__ import annotations

from django.db import models


class ChatMessage(models.Model):
    """One message of a room, by whichever protocol it came: an entry of the bridge's
    history (``telephonist.consumers.bridge_store.Entry``), kept in the database so it
    outlives the process and is shared by every worker."""

    room = models.CharField(max_length=50, db_index=True)
    message_id = models.CharField(max_length=200, default="", db_index=True)
    kind = models.CharField(max_length=10, default="message")
    user = models.CharField(max_length=100)
    user_id = models.CharField(max_length=200, default="")
    text = models.TextField()
    protocol = models.CharField(max_length=20)
    timestamp = models.FloatField(default=0.0)
    reply_to = models.CharField(max_length=200, null=True, blank=True)
    thread_id = models.CharField(max_length=200, null=True, blank=True)
    native = models.JSONField(default=dict)
    reactions = models.JSONField(default=dict)
    edited = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"<{self.user}> {self.text}"
