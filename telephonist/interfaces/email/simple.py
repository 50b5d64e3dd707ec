"""The most common shape of mail read without the stdlib parser: one plain-text part.

Pure, no I/O. Much chat-sized mail (a line typed in a terminal client, a script's
notice, a monitoring alert, Thunderbird's ``format=flowed`` text) is a header block and
one ``text/plain`` body that is not transfer-encoded. For that shape the stdlib's
``FeedParser`` builds a ``Message``, calls the policy for every header and decodes the
payload, only for us to read back two things: the raw header items and the body bytes.
Measured on a five-header, five-line mail, that was about two thirds of the parsing
cost. :func:`split_simple` reads those two things directly, and only when the input is
strictly that shape; for anything else it returns ``None`` and the caller takes the
general parser. So it never has to be right about mail the stdlib reads another way: it
only has to recognise, conservatively, mail the stdlib reads exactly this way.

What "exactly" means, from ``email.feedparser`` and ``email.message`` (compat32, with
raw header values, as ``message.py`` uses them):

* the header block ends at the first ``CRLF CRLF``; every line in it ends in CRLF only
  (the stdlib splits lines at CR, LF and the other ``str.splitlines`` breaks too, so
  none of those may occur inside a line), starts either a field (a name of printable
  ASCII but ``:``, then ``:``) or a continuation (space or tab, not first), and none is
  a Unix ``From `` line: then the stdlib reads the same fields with no defect;
* a field's raw value is the rest of its first line without leading blanks, joined
  with its continuation lines by CRLF (``header_source_parse``);
* the first ``Content-Type`` is missing or ``text/plain`` with at most ``charset``,
  ``format`` and ``delsp`` parameters (plain tokens, optionally quoted), so the part is a
  single leaf, a body and not an attachment (no ``name``), and there is no
  ``Content-Disposition``;
* the first ``Content-Transfer-Encoding`` is none the stdlib decodes (base64,
  quoted-printable, uuencode): then the payload it hands back is the bytes after the
  blank line, unchanged.

``tests/email/test_message.py`` checks by property that ``parse_message`` gives the
same keys with and without this shortcut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["Items", "plain_charset", "split_simple"]

# The rest of a line: anything but the line breaks the stdlib splits at (CR, LF and,
# since it uses str.splitlines, VT, FF and the ASCII separators; 8-bit bytes are
# surrogate-escaped, so none of the others can occur).
_REST = r"[^\r\n\x0b\x0c\x1c-\x1e]*"
# A field: a name (printable ASCII but the colon; the stdlib's headerRE without its
# empty name, which it reports as a defect), the colon, the value's first line, then
# its continuation lines. A Unix "From " line is not one (no colon after the name).
_NAME = r"[\x21-\x39\x3b-\x7e]+"
_FIELD = rf"{_NAME}:{_REST}(?:\r\n[ \t]{_REST})*"
_HEAD = re.compile(rf"{_FIELD}(?:\r\n{_FIELD})*")
# The same, cut into name and raw value (blanks before the value are not part of it).
_ITEM = re.compile(rf"({_NAME}):[ \t]*({_REST}(?:\r\n[ \t]{_REST})*)")
_TYPE = re.compile(r"[ \t]*text/plain[ \t]*", re.IGNORECASE)
_PARAM = re.compile(r'[ \t]*(charset|format|delsp)=("?)([A-Za-z0-9_.:+-]{1,40})\2[ \t]*', re.I)
# The encodings get_payload(decode=True) decodes; any other value leaves the bytes as
# they are.
_DECODED = frozenset({"quoted-printable", "base64", "x-uuencode", "uuencode", "uue", "x-uue"})

Items = list[tuple[str, str]]


def split_simple(raw: bytes) -> tuple[Items, bytes] | None:
    """``(header items, body)`` as the stdlib parser would give them when the header
    block is well formed (see the module docstring), else ``None``. Whether the body is
    a single plain-text part is :func:`plain_charset`'s question."""
    end = raw.find(b"\r\n\r\n")
    if end <= 0:
        return None
    head = raw[:end].decode("ascii", "surrogateescape")
    if _HEAD.fullmatch(head) is None:
        return None
    return _ITEM.findall(head), raw[end + 4 :]


def plain_charset(first: Mapping[str, str]) -> str | bool | None:
    """Given the first value of each header (by lower-case name) of a mail
    :func:`split_simple` read: the lower-case charset of its single plain-text part
    (``None`` if it names none), or ``False`` if it is not that kind of mail."""
    if "content-disposition" in first:
        return False
    encoding = first.get("content-transfer-encoding")
    if encoding is not None and encoding.lower() in _DECODED:
        return False
    value = first.get("content-type")
    if value is None:
        return None
    pieces = value.split(";")
    if _TYPE.fullmatch(pieces[0]) is None:
        return False
    charset: str | None = None
    for piece in pieces[1:]:
        found = _PARAM.fullmatch(piece)
        if found is None:
            return False
        if charset is None and found[1].lower() == "charset":
            charset = found[3].lower()
    return charset
