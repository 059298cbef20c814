"""Reading request input, JSON or multipart alike, with errors that name the bad field."""
from __future__ import annotations

import base64
import binascii
import math
import re

from flask import request
from werkzeug.datastructures import FileStorage

from embedder.fetch import fetch_image


class Payload:
    """A request's fields, from a JSON object or a multipart/urlencoded form, and its upload."""

    def __init__(self) -> None:
        if request.is_json:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            self.fields: dict = body
            self.form = None
        elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded", ""):
            self.fields = request.form.to_dict()
            self.form = request.form
        else:
            raise ValueError(f"send JSON or multipart/form-data, not {request.mimetype}")
        self.file: FileStorage | None = request.files.get("image")

    def text(self, name: str, max_length: int = 1000) -> str | None:
        value = self.fields.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > max_length:
            raise ValueError(f"{name}: expected a string of at most {max_length} characters")
        return value

    def strings(self, name: str, max_items: int = 100) -> list[str]:
        values = self.form.getlist(name) if self.form is not None else self.fields.get(name, [])
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"{name}: expected a list of strings")
        if len(values) > max_items:
            raise ValueError(f"{name}: at most {max_items} values, got {len(values)}")
        return [v for v in values if v.strip()]

    def filters(self, name: str = "fq") -> list[str]:
        """Solr filter queries from a client: field queries only. Local parameters (``{!join}``,
        ``{!frange}``, ...) and nested queries would let anyone on the internet run arbitrary,
        possibly costly, query parsers; the service builds its own local parameters."""
        values = self.strings(name)
        for value in values:
            if "{!" in value or "_query_" in value:
                raise ValueError(f"{name}: local parameters and nested queries are not accepted: {value[:100]!r}")
        return values

    def field_names(self, name: str) -> list[str]:
        values = self.strings(name)
        for value in values:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", value):
                raise ValueError(f"{name}: expected field names, got {value[:100]!r}")
        return values

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.fields.get(name, default)
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e400)
            raise ValueError(f"{name}: expected an integer, got {value!r}") from None
        if isinstance(value, float) or not low <= number <= high:
            raise ValueError(f"{name}: expected an integer from {low} to {high}, got {value!r}")
        return number

    def number(self, name: str) -> float | None:
        value = self.fields.get(name)
        if value is None or value == "":
            return None
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: float(10**400)
            raise ValueError(f"{name}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not math.isfinite(number) or number < 0:
            raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
        return number

    def flag(self, name: str) -> bool:
        value = self.fields.get(name, False)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "on", "false", "0", "off", ""):
            return value.lower() in ("true", "1", "on")
        raise ValueError(f"{name}: expected true or false, got {value!r}")

    def vector(self, name: str = "vector") -> list[float] | None:
        value = self.fields.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{name}: expected a JSON array of numbers")
        try:
            return [float(v) for v in value]
        except OverflowError:  # an integer like 10**400
            raise ValueError(f"{name}: a component is too large for a float") from None

    def image(self, *, allow_private: bool, timeout: float) -> bytes | None:
        """The image: an uploaded file, a URL (fetched safely) or base64, or None."""
        given = [n for n in ("image", "url", "image_base64") if (self.file if n == "image" else self.fields.get(n))]
        if len(given) > 1:
            raise ValueError(f"send one image, not {' and '.join(given)}")
        if self.file is not None:
            data = self.file.read()
            if not data:
                raise ValueError("image: the uploaded file is empty")
            return data
        if self.fields.get("url"):
            return fetch_image(str(self.fields["url"]), allow_private=allow_private, timeout=timeout)
        if self.fields.get("image_base64"):
            return self.decode_base64(str(self.fields["image_base64"]), "image_base64")
        return None

    @staticmethod
    def decode_base64(text: str, name: str) -> bytes:
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as error:
            raise ValueError(f"{name}: malformed base64 ({error})") from None
