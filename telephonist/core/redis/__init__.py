"""The Redis/Valkey channel layer (``pip install telephonist[redis]``).

``telephonist.core.redis.RedisChannelLayer`` is the class to name in ``CHANNEL_LAYERS``
or ``{"BACKEND": "redis"}``; see ``layer.py`` for how it works.
"""

from __future__ import annotations

from .layer import RedisChannelLayer

__all__ = ["RedisChannelLayer"]
