from django.db import models


class Note(models.Model):
    """Rows consumers write, for tests that read the database a worker wrote to."""

    text = models.CharField(max_length=200)
