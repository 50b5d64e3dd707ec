"""Header decoding for inbound mail: RFC 2047 encoded words, 8-bit headers, addresses.

Pure functions, no I/O. Everything here must accept any input a hostile or broken client
can send and return *some* text, because a parse error must never turn an accepted
(250) message into a lost one. Two rules shape the code:

* Addresses are split on the *raw* header and display names are decoded afterwards.
  Decoding first would let an encoded word such as ``=?utf-8?q?=3Cevil=40x=3E?=`` smuggle
  a new address (or a comma) into the list.
* Decoded text never carries control characters: an encoded word may hide a CR/LF, and a
  consumer that echoes a subject into a reply or a log must not be able to inject lines.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from email.utils import getaddresses

__all__ = [
    "charset_decode",
    "clean_text",
    "decode_8bit",
    "decode_header_value",
    "normalize_address",
    "parse_addresses",
    "parse_msg_ids",
    "scrub",
]

# An RFC 2047 encoded word: =?charset[*lang]?B|Q?text?=  (no whitespace inside).
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
# Whitespace between two adjacent encoded words is not part of the text (RFC 2047 6.2).
_BETWEEN_WORDS = re.compile(r"^[ \t\r\n]+$")
# C0 controls except TAB, DEL, C1 controls and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_FOLD = re.compile(r"\r?\n[ \t]")
# A raw 8-bit byte, as the parser's surrogateescape leaves it.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
# The two shapes nearly every From/To has, with nothing getaddresses could read another
# way: ``addr@host`` and ``Plain Name <addr@host>`` (atoms and spaces only, no quotes,
# comments, commas, encoded words or routes). Everything else takes the full parser.
_SIMPLE_ADDRESS = re.compile(
    r"[ \t]*(?:(?P<name>[A-Za-z0-9_ \t-]*?)[ \t]*<(?P<angle>[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+)>"
    r"|(?P<bare>[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+))[ \t]*"
)
_QP_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_MSG_ID = re.compile(r"<[^<>\s]{1,900}>")


def scrub(value: str) -> str:
    """Replace lone surrogates (which some codecs, e.g. ``unicode_escape`` named as a
    charset, can produce) so the text is valid UTF-8 and msgpack can carry it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def clean_text(value: str) -> str:
    """Replace every control character (tab kept) by a space: decoded header text is
    shown, logged and echoed into replies, so it must be one harmless line."""
    if value.isascii() and value.isprintable():
        return value  # nothing to replace: two scans in C (most header text)
    return _CONTROL.sub(" ", scrub(value))


def decode_8bit(value: str) -> str:
    """Undo the ``surrogateescape`` the stdlib parser uses for raw 8-bit header bytes.

    Clients that ignore RFC 2047 send UTF-8 (RFC 6532 allows it with SMTPUTF8) or a
    legacy charset. Try UTF-8 first, then fall back to cp1252, which maps every byte.
    """
    if _ESCAPED_BYTE.search(value) is None:
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def charset_decode(data: bytes, charset: str | None) -> str:
    """Decode ``data`` in a declared charset, never failing: unknown charsets decode as
    UTF-8, and undeclared/ASCII text that is really 8-bit tries UTF-8 then cp1252."""
    if charset is None or charset.lower() in ("us-ascii", "ascii"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace")
    return scrub(_charset_decode(data, charset))


def _charset_decode(data: bytes, charset: str) -> str:
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*en?...
    try:
        codecs.lookup(charset)
    except (LookupError, ValueError):  # ValueError: a name that is not even ASCII
        charset = "utf-8"  # unknown charset: the most likely truth, with replacement.
    try:
        return data.decode(charset, "replace")
    except Exception:  # some codecs raise other errors on odd input; never fail.
        return data.decode("utf-8", "replace")


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        text += "=" * (-len(text) % 4)  # tolerate missing padding, common in the wild.
        try:
            return base64.b64decode(text)
        except (binascii.Error, ValueError):
            return text.encode("ascii", "replace")
    raw = text.replace("_", " ").encode("ascii", "replace")
    return _QP_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def decode_header_value(value: str) -> str:
    """Decode one header value: unfold, repair 8-bit text, decode encoded words.

    Adjacent encoded words in the same charset are joined *as bytes* before decoding,
    because senders may split a multi-byte character across two words.
    """
    if value.isascii() and value.isprintable() and "=?" not in value:
        # Printable ASCII on one line without an encoded word: nothing the full decoding
        # does would change it but the strip (most header values; a property test
        # checks they agree).
        return value.strip()
    return _decode_header_value(value)


def _decode_header_value(value: str) -> str:
    value = _FOLD.sub(" ", decode_8bit(value))
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # run of adjacent encoded words
    pos = 0

    def flush() -> None:
        # Join adjacent words that share a charset, then decode each group.
        group: bytearray = bytearray()
        charset = ""
        for cs, data in pending:
            # UTF-16/32 words each start with their own BOM: decode them one by one.
            if group and (
                cs.lower() != charset.lower()
                or (cs.lower().startswith("utf-") and cs[4:6] in ("16", "32"))
            ):
                out.append(_charset_decode(bytes(group), charset))
                group = bytearray()
            charset = cs
            group += data
        if group:
            out.append(_charset_decode(bytes(group), charset))
        pending.clear()

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if gap and not (pending and _BETWEEN_WORDS.match(gap)):
            flush()
            out.append(gap)
        pending.append((match.group(1), _word_bytes(match.group(2), match.group(3))))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return clean_text("".join(out)).strip()


def normalize_address(address: str) -> str:
    """Canonical form used for comparisons and routing: the domain is case-insensitive
    (RFC 5321 2.4); local parts are compared case-insensitively too, as every real MTA
    does, so ``Support@`` and ``support@`` reach the same room."""
    return address.strip().strip("<>").lower()


def parse_addresses(*values: str) -> list[tuple[str, str]]:
    """``[(display_name, address), ...]`` from raw address-list header values.

    Splitting happens on the raw value (see the module docstring); names are decoded
    afterwards. Entries without an ``@`` are dropped (groups, garbage)."""
    if len(values) == 1 and (simple := _SIMPLE_ADDRESS.fullmatch(values[0])) is not None:
        if simple["bare"] is not None:
            return [("", simple["bare"])]
        return [(" ".join(simple["name"].split()), simple["angle"])]
    raw = [decode_8bit(v) for v in values]
    result: list[tuple[str, str]] = []
    for name, addr in getaddresses([_FOLD.sub(" ", v) for v in raw]):
        addr = clean_text(addr).strip()
        if "@" not in addr or " " in addr:
            continue
        result.append((decode_header_value(name), addr))
    return result


def parse_msg_ids(value: str | None, limit: int = 100) -> list[str]:
    """Message identifiers (``<id@host>``) in a Message-ID/In-Reply-To/References value,
    in order, at most ``limit`` (the newest are kept: they matter for threading)."""
    if not value:
        return []
    ids = _MSG_ID.findall(clean_text(decode_8bit(value)))
    return ids[-limit:]
