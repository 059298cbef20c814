"""The search request, declared once: every option's type, bounds, default and help.

One declaration drives every surface that takes a search: the client's ``Query`` (validation
and defaults), the ``lookalike`` flags (``add_arguments``), the service's reading of a request
(``parse``, for JSON and forms alike), its OpenAPI schema (``json_schema``) and, through that
schema, the web page's form (options marked ``page``).
"""

from __future__ import annotations

import argparse
import binascii
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from embedder import contract
from embedder.errors import BadInput

MAX_K = 1000  # results per page: deeper pages use `start`
MAX_START = 10_000  # Solr's deep paging grows with start + k; a cursor is for more
MAX_IDS = 100  # liked/disliked products per query (the plugin's limit too)
MAX_EXCLUDED = 10_000
FIELD_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,99}"
_TRUE, _FALSE = ("true", "1", "on", "yes"), ("false", "0", "off", "no", "")


@dataclass(frozen=True)
class Option:
    """One search option. ``kind`` is integer, number, boolean, string, strings (a list),
    choice, vector (a list of numbers) or selections (facet values by field)."""

    name: str
    kind: str
    help: str
    default: object = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None  # characters of a string, or items of a list
    item_length: int | None = None  # characters of each string of a list
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # every string must match it whole
    flag: bool = True  # a flag of `lookalike search`
    page: str | None = None  # the label of its input on the web page's search form, if it has one

    def parse(self, value: object) -> object:
        """The typed value of ``value`` (JSON, a form string or a CLI string), or BadInput."""
        if value is None or (value == "" and self.kind != "string"):
            return self.default
        parse = getattr(self, f"_{self.kind}")
        return parse(value)

    def _integer(self, value: object) -> int:
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and re.fullmatch(r"[+-]?\d{1,12}", text):
            text = int(text)
        if not isinstance(text, int) or isinstance(text, bool) or not self._in_bounds(text):
            raise self._error(f"an integer{self._bounds()}", value)
        return text

    def _number(self, value: object) -> float:
        try:
            number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
        except (ValueError, OverflowError):  # OverflowError: float(10**400)
            number = None
        if number is None or not math.isfinite(number) or not self._in_bounds(number):
            raise self._error(f"a finite number{self._bounds()}", value)
        return number

    def _boolean(self, value: object) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise self._error("true or false", value)

    def _string(self, value: object) -> str | None:
        if not isinstance(value, str) or len(value) > (self.max_length or 1000):
            raise self._error(f"a string of at most {self.max_length or 1000} characters", value)
        if self.pattern and value and not re.fullmatch(self.pattern, value):
            raise self._error(f"a string matching {self.pattern}", value)
        return value or self.default

    def _choice(self, value: object) -> str:
        if value not in self.choices:
            raise self._error(f"one of {', '.join(self.choices)}", value)
        return value

    def _strings(self, value: object) -> tuple[str, ...]:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            raise self._error("a list of strings", value)
        if len(values) > (self.max_length or MAX_IDS):
            raise BadInput(f"{self.name}: at most {self.max_length or MAX_IDS} values, got {len(values)}")
        for v in values:
            if self.pattern and not re.fullmatch(self.pattern, v):
                raise self._error(f"values matching {self.pattern}", v)
            if self.item_length is not None and len(v) > self.item_length:
                raise BadInput(f"{self.name}: a value of {len(v)} characters, over the limit of {self.item_length}")
        return tuple(v for v in values if v.strip())

    def _selections(self, value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Facet selections: ``{"color": ["red", "blue"]}`` (JSON), or ``color=red`` strings (a
        form, the CLI); sorted, so that equal selections are equal queries."""
        expected = 'an object {"field": ["value", ...]}, or field=value strings'
        if isinstance(value, tuple) and all(isinstance(pair, tuple) and len(pair) == 2 for pair in value):
            value = dict(value)  # already parsed
        if isinstance(value, Mapping):
            lists = [(f, [vs] if isinstance(vs, str) else vs) for f, vs in value.items()]
            if not all(isinstance(vs, (list, tuple)) for _, vs in lists):
                raise self._error(expected, value)
            pairs = [(f, v) for f, vs in lists for v in vs]
        else:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
                raise self._error(expected, value)
            pairs = [tuple(item.partition("=")[::2]) for item in items]
        selected: dict[str, dict[str, None]] = {}
        for field, v in pairs:
            if not isinstance(field, str) or not re.fullmatch(FIELD_NAME, field) or not isinstance(v, str) or not v:
                raise self._error("field names with 1 or more values (field=value)", value)
            if len(v) > 200:
                raise BadInput(f"{self.name}: a value of {field} is over 200 characters")
            selected.setdefault(field, {})[v] = None
        if len(selected) > (self.max_length or 20) or any(len(vs) > MAX_IDS for vs in selected.values()):
            raise BadInput(f"{self.name}: at most {self.max_length or 20} fields of at most {MAX_IDS} values each")
        return tuple(sorted((field, tuple(vs)) for field, vs in selected.items()))

    def _vector(self, value: object) -> tuple[float, ...]:
        if isinstance(value, str):  # the wire format (docs/vector-format.md)
            try:
                return tuple(contract.decode_vector(value).tolist())
            except (ValueError, binascii.Error):
                raise self._error("a JSON array of numbers, or base64 float32", value) from None
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise self._error("a JSON array of numbers", value)
        try:
            return tuple(float(v) for v in value)
        except OverflowError:  # an integer like 10**400
            raise BadInput(f"{self.name}: a component is too large for a float") from None

    def _in_bounds(self, number: float) -> bool:
        return (self.minimum is None or number >= self.minimum) and (self.maximum is None or number <= self.maximum)

    def _bounds(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f" from {self.minimum:g} to {self.maximum:g}"
        return f" >= {self.minimum:g}" if self.minimum is not None else ""

    def _error(self, expected: str, value: object) -> BadInput:
        shown = repr(value) if len(repr(value)) <= 100 else repr(value)[:97] + "..."
        return BadInput(f"{self.name}: expected {expected}, got {shown}")

    # -- the surfaces ------------------------------------------------------------------------
    def schema(self) -> dict:
        """The option as JSON Schema (OpenAPI 3.1), with ``x-page`` for the web page."""
        base = {
            "integer": {"type": "integer"},
            "number": {"type": "number"},
            "boolean": {"type": "boolean"},
            "string": {"type": "string"},
            "choice": {"enum": list(self.choices)},
            "strings": {"type": "array", "items": {"type": "string"}},
            "vector": {"type": "array", "items": {"type": "number"}},
            "selections": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        }[self.kind]
        schema = {**base, "description": self.help}
        if self.default not in (None, ()):
            schema["default"] = self.default
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum)):
            if value is not None:
                schema[key] = value
        if self.max_length is not None:
            schema["maxItems" if self.kind in ("strings", "vector") else "maxLength"] = self.max_length
        if self.pattern:
            target = schema["items"] if self.kind == "strings" else schema
            target["pattern"] = f"^{self.pattern}$"
        if self.item_length is not None:
            schema["items"]["maxLength"] = self.item_length
        if self.page:
            schema.update({"title": self.page, "x-page": True})
        return schema

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """The option as a flag: ``--max-dist``, ``-k``."""
        names = [f"-{self.name}"] if len(self.name) == 1 else [f"--{self.name.replace('_', '-')}"]
        shown = "" if self.default in (None, False, (), 0) else f" (default {self.default})"
        if self.kind == "boolean":
            parser.add_argument(*names, dest=self.name, action="store_true", help=self.help)
        elif self.kind in ("strings", "selections"):
            parser.add_argument(
                *names, dest=self.name, action="append", type=self._argparse_type, help=self.help + " (repeatable)"
            )
        else:
            parser.add_argument(
                *names, dest=self.name, type=self._argparse_type, help=self.help + shown, choices=self.choices or None
            )

    def _argparse_type(self, text: str) -> object:
        try:
            if self.kind == "selections":
                self._selections(text)  # checked here, parsed with its siblings
                return text
            return self.parse(text) if self.kind != "strings" else (self._strings([text]) or ("",))[0]
        except BadInput as error:
            raise argparse.ArgumentTypeError(str(error)) from None


SEARCH: dict[str, Option] = {
    o.name: o
    for o in (
        Option(
            "id",
            "string",
            "a product id: its lookalikes (the product itself is left out)",
            max_length=contract.MAX_ID_LENGTH,
        ),
        Option("vector", "vector", "a query vector in the PCA space (numbers, or base64 float32)", flag=False),
        Option(
            "weights",
            "vector",
            "rank by weights·x + bias of each product's vector x, highest first (a learned tagging model)",
            flag=False,
        ),
        Option("bias", "number", "the constant of the weights ranking", flag=False),
        Option("text", "string", "keywords", max_length=1000),
        Option("fq", "strings", "a Solr filter query, e.g. category:shirt", default=(), max_length=100),
        Option("k", "integer", "results per page", default=10, minimum=1, maximum=MAX_K, page="Results"),
        Option("start", "integer", "results to skip (paging)", default=0, minimum=0, maximum=MAX_START),
        Option("max_dist", "number", "only products within this squared distance", minimum=0, page="Max distance"),
        Option(
            "hybrid",
            "boolean",
            "rank by keyword relevance + visual score",
            default=False,
            page="Hybrid ranking (keywords + image)",
        ),
        Option(
            "probe",
            "integer",
            "approximate: search only the N nearest coarse cells",
            minimum=1,
            maximum=65_536,
            page="Approximate: cells to probe",
        ),
        Option(
            "like",
            "strings",
            "a liked product id: closer to these",
            default=(),
            max_length=MAX_IDS,
            item_length=contract.MAX_ID_LENGTH,
        ),
        Option(
            "unlike",
            "strings",
            "a disliked product id: away from these",
            default=(),
            max_length=MAX_IDS,
            item_length=contract.MAX_ID_LENGTH,
        ),
        Option(
            "unlike_weight", "number", "how far to move away from disliked products (plugin default 0.5)", minimum=0
        ),
        Option(
            "mode",
            "choice",
            "rank by similarity, or filter keyword results to within max_dist",
            default="rank",
            choices=("rank", "filter"),
        ),
        Option("facets", "strings", "fields to count values of", default=(), max_length=100, pattern=FIELD_NAME),
        Option(
            "filters",
            "selections",
            "facet selections, field=value: values of one field are OR-ed, fields AND-ed, and the other "
            "values of a selected field keep their counts",
            default=(),
            max_length=20,
        ),
        Option(
            "exclude",
            "strings",
            "a product id to leave out",
            default=(),
            max_length=MAX_EXCLUDED,
            item_length=contract.MAX_ID_LENGTH,
            flag=False,
        ),
        Option("model", "string", "the PCA version that made the query vector", max_length=100, flag=False),
    )
}


# The options each operation takes (the service sets `model` itself when it embeds an image).
SEARCH_REQUEST = tuple(name for name in SEARCH if name != "model")
RECOMMEND_REQUEST = (
    "like",
    "unlike",
    "unlike_weight",
    "text",
    "fq",
    "k",
    "start",
    "max_dist",
    "mode",
    "facets",
    "filters",
    "probe",
)
TAG_PREVIEW_REQUEST = ("k", "max_dist", "fq")


def parse(fields: Mapping[str, object], names: Iterable[str], table: Mapping[str, Option] = SEARCH) -> dict:
    """The options ``names`` present in ``fields``, typed and validated."""
    return {name: table[name].parse(fields[name]) for name in names if fields.get(name) is not None}


def resolve(values: Mapping[str, object], table: Mapping[str, Option] = SEARCH) -> dict:
    """Every option of ``table``: the given ones validated, the others at their defaults."""
    unknown = sorted(set(values) - set(table))
    if unknown:
        raise BadInput(f"unknown search option {unknown[0]!r}; the options are {', '.join(table)}")
    return {name: option.parse(values.get(name)) for name, option in table.items()}


def json_schema(names: Iterable[str], table: Mapping[str, Option] = SEARCH) -> dict[str, dict]:
    return {name: table[name].schema() for name in names}


def add_arguments(parser: argparse.ArgumentParser, names: Iterable[str], table: Mapping[str, Option] = SEARCH) -> None:
    for name in names:
        if table[name].flag:
            table[name].add_to(parser)
