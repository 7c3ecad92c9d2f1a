"""`--attach FILE`: images go as image blocks, text files as text; anything else, a missing file or
one over the provider's limit is refused before anything is sent."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from agentik_cli.errors import UsageError
from agentik_cli.providers import registry
from agentik_cli.text import decode, repair, replaced_note
from agentik_cli.values import Attachment

MIB = 1024 * 1024
TEXT_LIMIT = 2 * MIB


def _image_type(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def load(path_text: str, provider: str, warn: Callable[[str], None] | None = None) -> Attachment:
    """A file to send. A text file is read by agentik's rule for text (agentik_cli/text.py): a byte
    order mark dropped, bytes that are not UTF-8 replaced, and `warn` told how many."""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise UsageError(f"--attach {path_text}: no such file")
    if not path.is_file():
        raise UsageError(f"--attach {path_text}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--attach {path_text}: cannot read it ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    name = repair(path.name)[0]  # the name is stored and sent: a file name need not be UTF-8
    mime = _image_type(data[:16])
    if mime is not None:
        # each provider's per-image limit, declared on its class
        limit = registry.PROVIDERS[provider].image_limit if provider in registry.PROVIDERS else 5 * MIB
        if len(data) > limit:
            raise UsageError(
                f"--attach {path_text}: {len(data) / MIB:.1f} MiB is over the {provider} limit of "
                f"{limit // MIB} MiB an image"
            )
        return Attachment(name=name, mime=mime, size=len(data), sha256=digest, data=data)
    if b"\x00" in data:
        raise UsageError(f"--attach {path_text}: only images (PNG, JPEG, GIF, WebP) and text files can be attached")
    if len(data) > TEXT_LIMIT:
        raise UsageError(f"--attach {path_text}: a text file over {TEXT_LIMIT // MIB} MiB is too large to send")
    text, replaced = decode(data)
    if replaced * 3 > len(data):  # stray bytes are a text in another encoding; a third of it is no text
        raise UsageError(f"--attach {path_text}: only images (PNG, JPEG, GIF, WebP) and text files can be attached")
    if replaced and warn is not None:
        warn(replaced_note(f"--attach {path_text}", replaced))
    return Attachment(name=name, mime="text/plain", size=len(data), sha256=digest, text=text)
