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


def format_counts(counts: dict[str, object]) -> str:
    """Facet counts, one field per line: ``color: red 12, blue 8`` (highest count first)."""
    lines = []
    for field, values in counts.items():
        pairs = values.items() if isinstance(values, dict) else values
        lines.append(f"{field}: " + (", ".join(f"{value} {count}" for value, count in pairs) or "(none)"))
    return "\n".join(lines)


def format_clusters(clusters: list, titles: dict[str, str], held: dict[int, dict]) -> str:
    """Each cluster: its size, its representative (id and title) and what it holds."""
    lines = [f"{'cluster':>7} {'size':>6}  representative (nearest the centroid)"]
    for c in clusters:
        lines.append(f"{c.id:>7} {c.size:>6}  {c.representative}  {titles.get(c.representative, '')}")
        if held.get(c.id):
            lines.append(" " * 16 + format_counts(held[c.id]).replace("\n", " · "))
    return "\n".join(lines)
