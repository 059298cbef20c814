"""How results are shown on a terminal."""

from __future__ import annotations


def format_hits(hits: list) -> str:
    """A table, one product per line starting with its id."""
    if not hits:
        return "(no results)"
    header = f"{'id':<14} {'distance':>10} {'score':>8}  {'category':<10} {'color':<8} title"
    lines = [header]
    for hit in hits:
        distance = "" if hit.distance is None else f"{hit.distance:10.3f}"
        lines.append(
            f"{hit.id:<14} {distance:>10} {hit.score:8.4f}  {str(hit.fields.get('category', '')):<10} "
            f"{str(hit.fields.get('color', '')):<8} {hit.fields.get('title', '')}"
        )
    return "\n".join(lines)
