"""Product id lists, written for each Solr destination that reads them (one function each).

Ids may hold any character: commas, backslashes, spaces, quotes, colons, non-ASCII.

- ``/get?ids=`` and ``{!visual like=... unlike=...}`` split with Solr's ``StrUtils.splitSmart``,
  where a backslash escapes the next character;
- ``{!terms}`` splits on its ``separator`` with no escape at all, so the separator is a character
  that none of the ids contains.
"""

from __future__ import annotations

from collections.abc import Sequence

from embedder.errors import BadInput

# Tried in order for {!terms}: a comma reads best in logs; the others are control and private-use
# characters that no real product id holds.
_TERMS_SEPARATORS = (",", "\x1f", "\x1e", "\x1d", "\ue000", "\ue001")


def for_get(ids: Sequence[str]) -> str:
    """The value of ``/get``'s ``ids`` parameter."""
    return ",".join(i.replace("\\", "\\\\").replace(",", "\\,") for i in ids)


def for_visual(ids: Sequence[str]) -> str:
    """The value of ``{!visual}``'s ``like`` or ``unlike``: split like ``/get``'s ids."""
    return for_get(ids)


def for_terms(ids: Sequence[str]) -> tuple[str, str]:
    """``(separator, value)`` for ``{!terms f=id separator=... v=...}``."""
    for separator in _TERMS_SEPARATORS:
        if not any(separator in i for i in ids):
            return separator, separator.join(ids)
    raise BadInput("ids: these ids hold every separator {!terms} could use; exclude fewer at once")
