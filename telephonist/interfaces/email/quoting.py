"""Quoted-reply stripping: the new words of a reply, for the common chat key ``text``.

A consumer that also answers WebSocket and IRC users wants what the person *wrote*, not
the thread history their mail client appended. Pure function, no I/O.

Theory of operation
-------------------
The text is cut at the first *reply marker* that starts the quoted history:

* an Outlook-style separator (``-----Original Message-----``, a line of underscores, or
  a ``From:`` header block that follows a blank line);
* an attribution line (``On <date>, <someone> wrote:``, or a line ending in ``:``)
  immediately followed by ``>``-quoted lines, possibly after blank lines.

Then every remaining ``>``-quoted line is dropped (inline replies keep their own
lines, lose the quoted ones), the signature after ``-- `` (RFC 3676) is dropped, and
blank lines at both ends are trimmed. The result is always a subset of the input's
lines, in order, so nothing is ever invented; it is idempotent.
"""

from __future__ import annotations

import re

__all__ = ["strip_quoted_reply"]

_SEPARATORS = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|"
    r"Message d'origine|Mensaje original)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
# "On Tue, 2 Jan 2024 at 10:00, Ann <ann@example.com> wrote:" and its common translations.
_ATTRIBUTION = re.compile(
    r"^\s*(On|Le|Am|El|Il|Op|Em|Den)\s.*(wrote|a écrit|schrieb|escribió|ha scritto|"
    r"schreef|escreveu|skrev)\s*:\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|De|Von|Van|Da)\s*:\*?\s+\S", re.IGNORECASE)
_SIGNATURE = "-- "
# Every marker above needs one of these (a separator's dashes or underscores, an
# attribution's or a header's colon, a quote's ">"; the signature's "-- "): text without
# any has nothing to cut, which is most chat-sized mail.
_ANY_MARKER = re.compile(r"--|__|:|>")


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_attribution(line: str) -> bool:
    # Real attributions carry a date or an address; "On my way, he wrote:" does not.
    return bool(_ATTRIBUTION.match(line)) and any(ch.isdigit() or ch == "@" for ch in line)


def _is_blank_or_quoted(line: str) -> bool:
    # Quoted lines count as blank: they are removed, and the result must not change
    # when stripped again (idempotence).
    return not line.strip() or _is_quoted(line)


def _next_content(lines: list[str], start: int) -> int:
    """Index of the first non-blank line at or after ``start`` (``len(lines)`` if none)."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _cut_index(lines: list[str]) -> int:
    """Where the quoted history starts (``len(lines)`` if nowhere)."""
    for i, line in enumerate(lines):
        if _SEPARATORS.match(line):
            return i
        if _OUTLOOK_FROM.match(line) and (i == 0 or _is_blank_or_quoted(lines[i - 1])):
            # An Outlook header block: From:, then Sent:/Date: within the next lines.
            block = lines[i + 1 : i + 4]
            if any(re.match(r"^\s*\*?(Sent|Date|Envoyé|Gesendet)\s*:", b, re.I) for b in block):
                return i
        nxt = _next_content(lines, i + 1)
        followed_by_quote = nxt < len(lines) and _is_quoted(lines[nxt])
        if _is_attribution(line):
            return i
        # A generic attribution ("Ann wrote:") introducing a quote that runs to the end.
        if (
            followed_by_quote
            and line.rstrip().endswith(":")
            and not _is_quoted(line)
            and all(_is_quoted(rest) or not rest.strip() for rest in lines[nxt:])
        ):
            return i
        if i + 1 < len(lines) and _is_attribution(line.rstrip() + " " + lines[i + 1].strip()):
            return i  # attribution wrapped over two lines
    return len(lines)


def strip_quoted_reply(text: str) -> str:
    """The author's own text of a plain-text mail body (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if _ANY_MARKER.search(text) is not None:
        lines = lines[: _cut_index(lines)]
        if _SIGNATURE in lines:
            lines = lines[: lines.index(_SIGNATURE)]
        lines = [line for line in lines if not _is_quoted(line)]
    # Trim blank lines at both ends; keep inner blank lines (paragraphs).
    start = _next_content(lines, 0)
    end = len(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(line.rstrip() for line in lines[start:end])
