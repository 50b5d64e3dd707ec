"""Text that is plain and safe to show, the same on every side. Pure: no I/O.

Theory of operation
-------------------
Chat text crosses protocols: a line typed in a browser is shown in an IRC client, a
mail's body in a browser, an IRC line in a mail. Each protocol has characters that mean
something besides text (IRC: ``\\x01`` starts a CTCP request, ``\\x02``/``\\x03`` format;
terminals: escape sequences; every renderer: the bidirectional overrides that can make a
line read as if someone else wrote it). So every chat interface puts its inbound text
through :func:`safe_text` *before* the event reaches a consumer, and the contract's
``text`` is the result: what a consumer reads and relays is already harmless, whichever
protocol it came from and whichever it goes to.

The policy, one for every protocol:

* line breaks (CR LF, CR, LF, NEL, U+2028, U+2029) become ``\\n``; tabs stay;
* every other C0 control (NUL, ``\\x01``, the IRC formatting codes, ESC), DEL and the
  C1 controls are removed (IRC strips its formatting *with* its colour digits first:
  ``interfaces/irc/text.py``);
* the bidirectional embedding, override and isolate controls (U+202A-U+202E,
  U+2066-U+2069) are removed; marks (U+200E/U+200F) and joiners (emoji sequences) stay;
* lone surrogates (which no UTF-8 encoder accepts) become U+FFFD, non-characters
  U+FFFE/U+FFFF are removed.

``safe_text`` is idempotent (checked by a property test), so an interface that already
cleaned a text and a consumer that cleans it again agree. Names (``user``) are one line:
:func:`safe_name`.
"""

from __future__ import annotations

import re

__all__ = ["MAX_NAME_CHARS", "excerpt", "safe_name", "safe_text"]

#: Longest ``user`` the contract carries; longer names are cut (a nick, a display name).
MAX_NAME_CHARS = 64

_BREAKS = re.compile(r"\r\n|[\r\x85\u2028\u2029]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_REMOVE = {
    **{c: None for c in range(0x20) if c not in (0x09, 0x0A)},
    0x7F: None,
    **{c: None for c in range(0x80, 0xA0)},
    **{c: None for c in range(0x202A, 0x202F)},
    **{c: None for c in range(0x2066, 0x206A)},
    0xFFFE: None,
    0xFFFF: None,
}
_SPACES = re.compile(r"\s+")


# Every character the full treatment below changes (line breaks other than LF, removed
# characters, surrogates): text with none of them is already safe.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)


def _plain(text: str) -> bool:
    """Printable ASCII holds nothing this module changes; two scans in C say so, where
    the full treatment costs a dict lookup per character (most chat lines are this)."""
    return text.isascii() and text.isprintable()


def safe_text(text: str, limit: int | None = None) -> str:
    """``text`` made plain and safe to show (see the module docstring); with ``limit``,
    cut to at most that many characters, the last being ``…`` when something was cut."""
    # Lines of plain ASCII take the first test; a mail's body of many lines (or any
    # text with accents or emoji) the second, one scan in C instead of a dict lookup
    # per character.
    if not _plain(text) and _UNSAFE.search(text) is not None:
        text = _BREAKS.sub("\n", text)
        text = _SURROGATES.sub("\ufffd", text).translate(_REMOVE)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def safe_name(name: str, limit: int = MAX_NAME_CHARS) -> str:
    """A display name: :func:`safe_text` on one line, runs of white space as one space."""
    if len(name) <= limit and _plain(name) and "  " not in name and name == name.strip():
        return name  # a nick: already what the line below would make of it
    return safe_text(_SPACES.sub(" ", safe_text(name)).strip(), limit).strip()


def excerpt(text: str, limit: int = 60) -> str:
    """A short one-line quote of ``text`` (for "replying to ..." and similar)."""
    return safe_text(_SPACES.sub(" ", text).strip(), limit)
