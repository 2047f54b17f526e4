"""The one rule for store names: knowledge bases, adapters and emotion models.

A store name becomes a folder or table name, so it must be safe on every file system and in
SQL: 1-64 characters from ``a-z``, ``0-9``, ``_`` and ``-``. Input that breaks the rule is
REFUSED, never silently rewritten, so the name on disk is always the name typed:
:func:`check_name` raises a :class:`UserError` naming the bad value and the rule.
:func:`suggest_name` is for pages that turn free text into a name the user then sees (lower-case,
runs of whitespace to ``-``); it still refuses anything else (``/``, ``.``, accents).

Uploaded document names are a different concept (a display name kept inside a store, not a
store key) and live in :func:`core.rag.ingest.clean_document_name`.

Example:
    >>> check_name("orbis-v2")
    'orbis-v2'
    >>> suggest_name("Orbis V2")
    'orbis-v2'
    >>> check_name("../etc", "knowledge base")
    Traceback (most recent call last):
    ...
    core.errors.UserError: knowledge base name '../etc' is not allowed; every knowledge ...
"""

from __future__ import annotations

import re

from core.errors import UserError

NAME_RE = re.compile(r"[a-z0-9_-]{1,64}")
RULE = "1-64 characters from a-z, 0-9, '_' and '-' (no capitals, spaces, dots or slashes)"


def is_valid_name(name: object) -> bool:
    """True when ``name`` follows the rule (for filtering folders that are not stores)."""
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def check_name(name: object, what: str = "adapter") -> str:
    """Return ``name`` unchanged if it follows the rule; else UserError naming value and rule.

    ``what`` names the kind of store in the message ("adapter", "knowledge base", "model").
    Example: ``check_name("a/b")`` raises ``adapter name 'a/b' is not allowed; every adapter
    name must be 1-64 characters from a-z, ...``; ``check_name("My kb")`` is refused too.
    """
    if is_valid_name(name):
        return name  # type: ignore[return-value]
    text = str(name)
    shown = text if len(text) <= 80 else text[:77] + "..."
    raise UserError(f"{what} name {shown!r} is not allowed; every {what} name must be {RULE}")


def suggest_name(text: str, what: str = "adapter") -> str:
    """Lower-case ``text`` and turn whitespace runs into ``-``, then :func:`check_name` it.

    Example: ``"Orbis V2" -> "orbis-v2"``; ``"../etc"``, ``"a.b"`` and ``"é"`` are refused.
    """
    return check_name(re.sub(r"\s+", "-", str(text).strip().lower()), what)
