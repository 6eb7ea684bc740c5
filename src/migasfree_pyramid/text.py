"""Text helpers whose exact behaviour is part of the data (slugs end up in URLs and paths)."""

from __future__ import annotations

import re
import unicodedata


def slugify(value: str) -> str:
    """Django's ``slugify``: ASCII-fold, lower-case, keep word characters, spaces and dashes,
    collapse runs of spaces/dashes into one dash, trim dashes and underscores."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text.lower())
    return re.sub(r"[-\s]+", "-", text).strip("-_")


def to_lines(items: list[str] | None) -> str | None:
    """A JSON list of package names as stored: newline-joined, blanks dropped."""
    if not items:
        return None
    lines = [item.strip() for item in items if item and item.strip()]
    return "\n".join(lines) if lines else None


def from_lines(text: str | None) -> list[str]:
    """The stored newline-joined list back as a list (CRLF tolerated)."""
    if not text:
        return []
    return [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
