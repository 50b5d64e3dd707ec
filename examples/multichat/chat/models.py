from django.db import models


class ChatMessage(models.Model):
    """One line said in a room, by whichever protocol it came."""

    room = models.CharField(max_length=50, db_index=True)
    user = models.CharField(max_length=100)
    text = models.TextField()
    protocol = models.CharField(max_length=20)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"<{self.user}> {self.text}"

    @classmethod
    def recent(cls, room: str, limit: int = 20) -> list["ChatMessage"]:
        """The last ``limit`` messages of ``room``, oldest first."""
        return list(reversed(cls.objects.filter(room=room).order_by("-id")[:limit]))
