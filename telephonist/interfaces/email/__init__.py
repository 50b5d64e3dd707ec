"""The email interface: SMTP in (aiosmtpd) and out (a relay), as ``email.*`` messages.

See ``docs/email.md`` for the message spec, every setting and the delivery promise.
"""

from .config import EmailConfig, RelayConfig
from .interface import EmailInterface

__all__ = ["EmailConfig", "EmailInterface", "RelayConfig"]
