"""Reading request input, JSON or multipart alike, with errors that name the bad field.

Every value is parsed by ``embedder.options``: the search options as declared there, and the
few route-specific fields (an attribute, a gallery size, ids to tag) as options made here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from flask import request
from werkzeug.datastructures import FileStorage

from embedder import contract, options, querysyntax
from embedder.errors import BadInput
from embedder.fetch import fetch_image
from embedder.options import Option

MAX_JSON_DEPTH = 8  # the deepest request (a product's list of attribute values) needs 4


def _depth(value: object) -> int:
    """How deeply JSON containers nest (iterative: a hostile body must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class Payload:
    """A request's fields, from a JSON object, a multipart/urlencoded form or a GET's query
    string, and its upload."""

    def __init__(self) -> None:
        if request.is_json:
            try:
                body = request.get_json(silent=True)
            except RecursionError:  # Python's parser gives up near 1000 levels
                raise BadInput(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels") from None
            if not isinstance(body, dict):
                raise BadInput("the body must be a JSON object")
            if _depth(body) > MAX_JSON_DEPTH:
                raise BadInput(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
            self.fields: dict = body
            self.form = None
        elif request.method == "GET":  # a page of something: its options in the query string
            self.fields = request.args.to_dict()
            self.form = request.args
        elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded", ""):
            self.fields = request.form.to_dict()
            self.form = request.form
        else:
            raise BadInput(f"send JSON or multipart/form-data, not {request.mimetype}")
        self.file: FileStorage | None = request.files.get("image")

    def _value(self, name: str) -> object:
        if self.form is not None and name in self.form and len(self.form.getlist(name)) > 1:
            return self.form.getlist(name)
        return self.fields.get(name)

    def search(self, names: Iterable[str]) -> dict:
        """The search options ``names`` that the request gives, typed and validated; ``fq``,
        ``text``, ``facets`` and the fields of ``filters`` in the query syntax of
        ``embedder.querysyntax``, and ``fq`` and ``text`` as the canonical strings written there
        (what Solr gets)."""
        listed = ("strings", "selections")
        values = {
            name: self._list(name) if options.SEARCH[name].kind in listed else self._value(name) for name in names
        }
        parsed = options.parse(values, names)
        if "fq" in parsed:
            parsed["fq"] = tuple(self._field_queries_only(parsed["fq"]))
        if "text" in parsed:
            if parsed["text"] and parsed["text"].strip():
                parsed["text"] = querysyntax.keywords(parsed["text"], "text")
            else:  # empty or only spaces: no keywords
                del parsed["text"]
        if "facets" in parsed:
            parsed["facets"] = tuple(querysyntax.facet_field(f, "facets") for f in parsed["facets"])
        if "filters" in parsed:
            parsed["filters"] = tuple((querysyntax.facet_field(f, "filters"), vs) for f, vs in parsed["filters"])
        return parsed

    def _list(self, name: str) -> object:
        return self.form.getlist(name) if self.form is not None and name in self.form else self.fields.get(name)

    def text(self, name: str, max_length: int = 1000) -> str | None:
        return Option(name, "string", "", max_length=max_length).parse(self._value(name))

    def strings(self, name: str, max_items: int = 100, item_length: int | None = None) -> list[str]:
        option = Option(name, "strings", "", default=(), max_length=max_items, item_length=item_length)
        return list(option.parse(self._list(name)))

    def ids(self, name: str, max_items: int = 100) -> list[str]:
        """Product ids, each of at most ``contract.MAX_ID_LENGTH`` characters, as everywhere."""
        return self.strings(name, max_items, contract.MAX_ID_LENGTH)

    def id(self, name: str) -> str | None:
        return self.text(name, contract.MAX_ID_LENGTH)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        return Option(name, "integer", "", default=default, minimum=low, maximum=high).parse(self._value(name))

    def filters(self, name: str = "fq") -> list[str]:
        return self._field_queries_only(self.strings(name), name)

    @staticmethod
    def _field_queries_only(values: Iterable[str], name: str = "fq") -> list[str]:
        """Solr filter queries from a client, parsed by ``embedder.querysyntax`` (fields of the
        catalog, terms, phrases, ranges, boolean operators, bounded nesting) and rewritten in its
        canonical form: local parameters, function and nested queries never reach Solr, so nobody
        on the internet runs arbitrary or costly query parsers; the service builds its own."""
        return [querysyntax.filter_query(value, name) for value in values]

    def image_fields(self) -> list[str]:
        """The fields that give an image (nothing is fetched or decoded)."""
        return [n for n in ("image", "url", "image_base64") if (self.file if n == "image" else self.fields.get(n))]

    def image(self, *, allow_private: bool, timeout: float) -> bytes | None:
        """The image: an uploaded file, a URL (fetched safely) or base64, or None."""
        given = self.image_fields()
        if len(given) > 1:
            raise BadInput(f"send one image, not {' and '.join(given)}")
        if self.file is not None:
            data = self.file.read()
            if not data:
                raise BadInput("image: the uploaded file is empty")
            return data
        if self.fields.get("url"):
            return fetch_image(str(self.fields["url"]), allow_private=allow_private, timeout=timeout)
        if self.fields.get("image_base64"):
            return self.decode_base64(str(self.fields["image_base64"]), "image_base64")
        return None

    def refuse_unknown(self, known: Iterable[str]) -> None:
        """A field the route does not take is a mistake (a misspelt option), not something to ignore."""
        unknown = sorted(set(self.fields) - set(known) - ({"image"} if self.file is not None else set()))
        if unknown:
            raise BadInput(f"{unknown[0]}: not a field of this request; the fields are {', '.join(sorted(known))}")

    @staticmethod
    def decode_base64(text: str, name: str) -> bytes:
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as error:
            raise BadInput(f"{name}: malformed base64 ({error})") from None
