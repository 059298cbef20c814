"""Reading a product catalog (CSV or JSON Lines) as a stream of rows mapped to Solr fields.

Required columns: ``id`` and ``image`` (a path relative to the catalog file, or an http(s) URL;
optional when the vectors come from a file).
``title``, ``description`` and columns named like schema fields (brand, category, color, price,
attributes, ...) become those fields; any other column becomes a dynamic ``attr_<name>`` field.
Columns the indexing job owns (the vector, its model version, the cluster id) are refused.
"""

from __future__ import annotations

import csv
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from embedder import contract
from embedder.errors import BadInput
from embedder.solr import SchemaInfo

REQUIRED = ("id", "image")
MULTI_VALUE_SEPARATOR = "|"  # in CSV cells of multi-valued fields: "cotton|summer"
NUMERIC_FIELDS = {"price": float}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogError(BadInput):
    """The catalog as a whole cannot be read (format, missing or refused columns)."""


@dataclass
class CatalogRow:
    """One product: its id, where its image is, and its Solr fields (or why the row is bad)."""

    line: int
    id: str
    image: str
    fields: dict[str, object] = field(default_factory=dict)
    error: str | None = None
    ordinal: int = 0  # the catalog's data row number, from 0 (of every shard): its --vectors row


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count``: each product id belongs to exactly one worker."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise BadInput(f"--shard must be I/N with 0 <= I < N, got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def owns(self, product_id: str) -> bool:
        return zlib.crc32(product_id.encode("utf-8")) % self.count == self.index


def read_catalog(
    path: Path,
    schema: SchemaInfo,
    shard: Shard = Shard(),
    renames: dict[str, str] | None = None,
    image_required: bool = True,
) -> Iterator[CatalogRow]:
    """Streams the catalog's rows of this shard, mapped to Solr fields. ``renames`` maps a
    catalog's own column names to the ones above (``--column productDisplayName=title``).
    Without ``image_required`` (vectors come from a file) the image is only shown."""
    path = Path(path)
    renames = _checked_renames(renames or {})
    unseen = set(renames)
    mapping: dict[str, str] | None = None
    required = REQUIRED if image_required else ("id",)
    for ordinal, (line, record) in enumerate(_records(path)):
        unseen -= set(record)
        record = {renames.get(column, column): value for column, value in record.items()}
        if mapping is None:
            mapping = column_mapping(list(record), schema, required)
        row = parse_record(line, record, schema, path.parent, mapping, required)
        row.ordinal = ordinal
        if shard.owns(row.id) if row.id else shard.index == 0:  # a row without an id fails once
            yield row
    if unseen:  # only known at the end: a CSV cell left empty is no column of that row
        raise CatalogError(f"--column: the catalog has no column {sorted(unseen)[0]!r}")


def parse_rename(text: str) -> tuple[str, str]:
    """``SRC=DEST`` of ``--column``."""
    source, sep, dest = text.partition("=")
    if not sep or not source.strip() or not dest.strip():
        raise BadInput(f"expected SRC=DEST, e.g. productDisplayName=title, got {text!r}")
    return source.strip(), dest.strip()


def _checked_renames(renames: dict[str, str]) -> dict[str, str]:
    dests = list(renames.values())
    twice = sorted({d for d in dests if dests.count(d) > 1})
    if twice:
        raise CatalogError(f"--column: two columns renamed to {twice[0]!r}")
    return renames


def count_rows(path: Path) -> int:
    """How many data rows the catalog has (of every shard)."""
    return sum(1 for _ in _records(Path(path)))


def column_mapping(columns: list[str], schema: SchemaInfo, required: tuple[str, ...] = REQUIRED) -> dict[str, str]:
    """Catalog column -> Solr field, or a CatalogError naming every refused column."""
    missing = [c for c in required if c not in columns]
    if missing:
        raise CatalogError(f"the catalog has no {', '.join(missing)} column (columns: {columns})")
    problems, mapping = [], {}
    for column in columns:
        if column not in REQUIRED:
            try:
                mapping[column] = field_for(column, schema)
            except CatalogError as error:
                problems.append(str(error))
    if problems:
        raise CatalogError("refused catalog columns: " + "; ".join(problems))
    return mapping


def field_for(column: str, schema: SchemaInfo) -> str:
    """The Solr field a catalog column fills."""
    if column in contract.OWNED_FIELDS:
        raise CatalogError(f"{column!r} is written by the indexing job, not the catalog")
    if contract.is_merchandiser_field(column):
        raise CatalogError(f"{column!r} is written by merchandisers (tags, clusters), not the catalog")
    if not _NAME.match(column):
        raise CatalogError(f"{column!r} is not a field name (lowercase letters, digits, _)")
    if schema.accepts(column):
        return column
    return contract.CATALOG_ATTRIBUTE_PREFIX + column


def _records(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for record in reader:
                yield reader.line_num, {k: v for k, v in record.items() if v not in (None, "")}
    elif suffix in (".jsonl", ".ndjson", ".json"):
        with open(path, encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                if text.strip():
                    yield number, _json_record(text, path, number)
    else:
        raise CatalogError(f"{path}: a catalog is .csv or .jsonl, got {suffix or 'no extension'!r}")


def _json_record(text: str, path: Path, number: int) -> dict[str, object]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogError(f"{path}:{number}: not a JSON object: {error}") from error
    if not isinstance(record, dict):
        raise CatalogError(f"{path}:{number}: each line is a JSON object")
    return record


def parse_record(
    line: int,
    record: dict,
    schema: SchemaInfo,
    base: Path,
    mapping: dict[str, str] | None = None,
    required: tuple[str, ...] = REQUIRED,
) -> CatalogRow:
    """One catalog record (CSV row or JSON object) as a row of Solr fields; the row's ``error``
    says why it cannot be indexed. ``mapping`` caches column -> field decisions."""
    mapping = mapping or {}
    product_id = str(record.get("id", "")).strip()
    image = str(record.get("image", "")).strip()
    row = CatalogRow(line=line, id=product_id, image=_resolve_image(image, base) if image else "")
    if not product_id or ("image" in required and not image):
        row.error = f"line {line}: {' and '.join(required)} {'are' if len(required) > 1 else 'is'} required"
        return row
    if len(product_id) > contract.MAX_ID_LENGTH:
        row.error = f"line {line}: id: over {contract.MAX_ID_LENGTH} characters"
        return row
    if contract.is_reserved_id(product_id):  # it would replace the collection's own state
        row.error = (
            f"line {line}: id {product_id!r}: ids starting {contract.RESERVED_ID_PREFIX!r} are "
            "reserved for the collection's own documents"
        )
        return row
    for column, value in record.items():
        if column in REQUIRED:
            continue
        try:
            name = mapping[column] if column in mapping else field_for(column, schema)
            row.fields[name] = _value(name, value)
        except ValueError as error:  # CatalogError included: a refused key on one JSON line
            row.error = f"line {line}: {column}: {error}"
            return row
    if row.image:
        row.fields[contract.IMAGE_URL_FIELD] = row.image  # resolved: a URL or an absolute path
    return row


def _value(name: str, value: object) -> object:
    """A cell as a field value: a scalar or a list of scalars (a JSON object would be read by Solr
    as an atomic update of the product, so none is taken)."""
    if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)):
        raise ValueError("expected a value or a list of values, not an object")
    if name in NUMERIC_FIELDS:
        try:
            number = NUMERIC_FIELDS[name](value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    if isinstance(value, str) and (name == "attributes" or name.startswith(contract.CATALOG_ATTRIBUTE_PREFIX)):
        return [v.strip() for v in value.split(MULTI_VALUE_SEPARATOR) if v.strip()]
    return value


def _resolve_image(image: str, base: Path) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*://", image, re.IGNORECASE):
        return image
    return str((base / image).resolve())
