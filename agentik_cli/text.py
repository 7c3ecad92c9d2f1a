"""Text that a person hands agentik to send to a model: a message on stdin, a --system-file, a text
file given to --attach. One rule for all of it: UTF-8; a leading byte order mark (left by Windows
editors and spreadsheets) is not text; bytes that are not UTF-8 (a Latin-1 file in a `git diff`)
become U+FFFD and the caller says how many on stderr, so the message still goes, and is stored, as
valid text. (Read as the locale would, such bytes turn into lone surrogates that no JSON body and no
database can hold.) Data that agentik must read exactly (`costs import`) is not read this way."""

from __future__ import annotations

BOM = b"\xef\xbb\xbf"
REPLACEMENT = "\ufffd"


def decode(data: bytes) -> tuple[str, int]:
    """(text, how many bytes were not UTF-8 and were replaced)."""
    data = data.removeprefix(BOM)
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    # valid UTF-8 round-trips byte for byte, so what is missing after re-encoding, less the three
    # bytes of each U+FFFD that was not in the input, is what was replaced
    added = text.count(REPLACEMENT) - data.count(REPLACEMENT.encode())
    return text, len(data) - len(text.encode("utf-8")) + 3 * added


def repair(value: str) -> tuple[str, int]:
    """The same rule for text that reached Python already decoded with surrogateescape (argv, or a
    terminal line read so): its lone surrogates are the bytes that were not UTF-8."""
    if value.isascii() or not any("\ud800" <= char <= "\udfff" for char in value):
        return value, 0
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        data = value.encode("utf-8", "surrogatepass")
    return decode(data)


def replaced_note(source: str, count: int) -> str:
    return f"{source} is not all UTF-8: {count} byte{'s' if count != 1 else ''} replaced by {REPLACEMENT}"
