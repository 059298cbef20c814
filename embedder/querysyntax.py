"""The query syntax the service accepts in ``fq``, ``text`` and ``facets`` (docs/service.md).

A grammar, not a blocklist: a small subset of Lucene's standard syntax (fields, terms, prefix
terms, phrases, ranges, existence, AND/OR/NOT, +/-, parentheses) is tokenized and parsed by
recursive descent, and what Solr receives is not the caller's string but a canonical string
written here from the parse: every term escaped, every range bound quoted. So whatever Solr's
parsers would make of a construct we do not know of (local parameters ``{!...}``, ``_val_``,
``_query_``, ``filter(...)``, regular expressions), it never reaches them. Depth and size are
bounded so a query cannot exhaust Solr's stack (2000 nested parentheses did) or its clause limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from embedder import contract
from embedder.errors import BadInput

MAX_DEPTH = 10  # nested parentheses
MAX_CLAUSES = 100  # terms, phrases and ranges per value (Solr's own limit is 1024 per query)
MAX_LENGTH = 5000  # characters per value: checked before anything else is read
FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")

# The fields a filter may name: the product fields of solr-config/conf/schema.xml (a test checks
# this list against it), the catch-all `text`, and pca_version and cluster_id, which the indexing
# job writes but are harmless filters (the page filters by cluster). Not the collection's own:
# image_vector (a vector, not searchable), image_url (not indexed), kind, model_blob, model_meta,
# _version_. Solr's magic fields _val_ and _query_ are not fields at all.
PRODUCT_FIELDS = frozenset(
    {"id", "title", "description", "brand", "category", "color", "price", "attributes", "text"}
    | {contract.VERSION_FIELD, contract.CLUSTER_FIELD}
)
DYNAMIC_FIELDS = ("attr_*", "tag_*", "*_s", "*_ss", "*_t", "*_i", "*_f")  # not *_vec2048: vectors
OWN_FIELDS = contract.OWNED_FIELDS - PRODUCT_FIELDS
# Keywords go to edismax over these fields; a fielded keyword may name only them.
KEYWORD_FIELDS = contract.KEYWORD_FIELDS
_MAGIC = {"_val_": "function queries are not accepted", "_query_": "nested queries are not accepted"}

_ENDS_WORD = set('()[]{}:"')  # besides whitespace; Lucene splits terms on these
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}
_REFUSED = {  # characters with a meaning in Lucene that the subset leaves out
    "^": "boosts (^) are not accepted",
    "~": "fuzzy and proximity searches (~) are not accepted",
    "?": "? wildcards are not accepted (a trailing * is; escape a literal ? as \\?)",
    "/": "regular expressions (/.../) are not accepted",
    "]": "a ']' closes no range",
    "}": "a '}' closes no range",
}
_LOCAL_PARAMS = "local parameters ({!...}) are not accepted"


def catalog_field(name: str) -> bool:
    """True for a field a filter may name: a product field of the schema, explicit or dynamic."""
    if name in OWN_FIELDS or not FIELD.fullmatch(name):
        return False
    return name in PRODUCT_FIELDS or any(
        (p.endswith("*") and name.startswith(p[:-1]) or p.startswith("*") and name.endswith(p[1:]))
        and len(name) > len(p) - 1
        for p in DYNAMIC_FIELDS
    )


def filter_query(value: str, name: str = "fq", fields: Callable[[str], bool] = catalog_field) -> str:
    """The canonical form of one filter query, or BadInput naming what is outside the subset.
    ``fields`` says which field names exist (e.g. a cached ``SchemaInfo.accepts``)."""
    return _Parser(value, name, fields, keywords=False).parse()


def keywords(value: str, name: str = "text") -> str:
    """The canonical form of keywords for edismax: no ranges; fielded only on KEYWORD_FIELDS."""
    return _Parser(value, name, KEYWORD_FIELDS.__contains__, keywords=True).parse()


def facet_field(value: str, name: str = "facets", fields: Callable[[str], bool] = catalog_field) -> str:
    """A field to count values of: a field name the catalog has, never the collection's own."""
    if not FIELD.fullmatch(value):
        raise BadInput(f"{name}: {value[:100]!r} is not a field name")
    if not fields(value) or value in OWN_FIELDS:
        raise BadInput(f"{name}: {_not_a_field(value)}")
    return value


def _not_a_field(field: str) -> str:
    reason = _MAGIC.get(field) or ("it is the collection's own" if field in OWN_FIELDS else "")
    return f'"{field}" is not a field of the catalog' + (f": {reason}" if reason else "")


class _Token(NamedTuple):
    kind: str  # word, prefix (a word and a trailing *), star, phrase, range, ( ) : + - AND OR NOT
    text: object  # the unescaped text; for a range (low_inclusive, low, high, high_inclusive)
    at: int  # where it starts, for messages
    plain: bool = True  # a word without escapes (so it may be a field name or an operator)


class _Parser:
    def __init__(self, value: str, name: str, fields: Callable[[str], bool], *, keywords: bool) -> None:
        self.value, self.name, self.fields, self.keywords = value, name, fields, keywords
        self.tokens: list[_Token] = []
        self.i = self.clauses = 0

    def error(self, problem: str, at: int | None = None) -> BadInput:
        shown = repr(self.value) if len(self.value) <= 80 else repr(self.value[:77]) + "..."
        where = f" (at character {at + 1} of {shown})" if at is not None else f" (in {shown})"
        return BadInput(f"{self.name}: {problem}{where}")

    def parse(self) -> str:
        if len(self.value) > MAX_LENGTH:
            raise BadInput(f"{self.name}: longer than {MAX_LENGTH} characters")
        self._tokenize()
        query = self.query(0, None)
        if self.i < len(self.tokens):  # only a ')' stops the top-level query early
            raise self.error("a ')' closes no parenthesis", self.tokens[self.i].at)
        return query

    # -- tokens: one pass, no recursion, so no input can be too deep to read ---------------
    def _tokenize(self) -> None:
        s, i = self.value, 0
        while i < len(s):
            c, ahead = s[i], s[i + 1 : i + 2]
            if c.isspace():
                i += 1
            elif c in "():":
                self.tokens.append(_Token(c, c, i))
                i += 1
            elif c == '"':
                text, end = self._quoted(i)
                self.tokens.append(_Token("phrase", text, i))
                i = end
            elif c == "{" and ahead == "!":
                raise self.error(_LOCAL_PARAMS, i)
            elif c in "[{":
                i = self._range(i)
            elif s[i : i + 2] in ("&&", "||"):
                self.tokens.append(_Token(_OPERATORS[s[i : i + 2]], s[i : i + 2], i))
                i += 2
            elif c in "+-!":  # a modifier touches its clause; a lone one is a typo, not a term
                if not ahead or ahead.isspace():
                    raise self.error(f"a lone {c!r} (write {c}word, or escape it as \\{c})", i)
                self.tokens.append(_Token("NOT" if c == "!" else c, c, i))
                i += 1
            elif c in _REFUSED:
                raise self.error(_REFUSED[c], i)
            elif c == "*":
                if ahead and not ahead.isspace() and ahead not in _ENDS_WORD:
                    raise self.error("leading wildcards (*word) are not accepted: they read every term", i)
                self.tokens.append(_Token("star", "*", i))
                i += 1
            else:
                i = self._word(i)

    def _word(self, start: int) -> int:
        s, i, chars, plain, kind = self.value, start, [], True, "word"
        while i < len(s) and not s[i].isspace() and s[i] not in _ENDS_WORD:
            c = s[i]
            if c == "\\":
                if i + 1 == len(s):
                    raise self.error("a backslash at the end escapes nothing", i)
                chars.append(s[i + 1])
                plain, i = False, i + 2
                continue
            if c == "*":
                if i + 1 < len(s) and not s[i + 1].isspace() and s[i + 1] not in _ENDS_WORD:
                    raise self.error("only a trailing * (a prefix) is accepted, not one inside a word", i)
                kind, i = "prefix", i + 1
                break
            if c in "^~?":
                raise self.error(_REFUSED[c], i)
            chars.append(c)  # + - ! / & | inside a word are ordinary characters (escaped when sent)
            i += 1
        text = "".join(chars)
        if "{!" in text:
            raise self.error(_LOCAL_PARAMS, start)
        if plain and kind == "word" and text in ("AND", "OR", "NOT"):
            kind = text
        self.tokens.append(_Token(kind, text, start, plain))
        return i

    def _quoted(self, start: int) -> tuple[str, int]:
        s, i, chars = self.value, start + 1, []
        while i < len(s) and s[i] != '"':
            if s[i] == "\\" and i + 1 < len(s):
                i += 1
            chars.append(s[i])
            i += 1
        if i >= len(s):
            raise self.error("a quoted phrase is not closed", start)
        text = "".join(chars)
        if "{!" in text:  # just text to Lucene's parser, but no caller needs it and edismax re-reads
            raise self.error(_LOCAL_PARAMS, start)
        return text, i + 1

    def _range(self, start: int) -> int:
        """``[low TO high]``, ``{low TO high}`` or mixed; a bound is ``*``, a word or a phrase."""
        s, bounds, i = self.value, [], start + 1
        for expect_to in (True, False):
            i = len(s) - len(s[i:].lstrip())
            if i < len(s) and s[i] == '"':
                text, i = self._quoted(i)
                bounds.append(text)
            else:
                begin = i
                while i < len(s) and not s[i].isspace() and s[i] not in "[]{}":
                    i += 2 if s[i] == "\\" else 1
                raw = s[begin:i]
                if not raw:
                    raise self.error("a range is [low TO high], * for an open end", start)
                if "{!" in raw:
                    raise self.error(_LOCAL_PARAMS, begin)
                bounds.append(None if raw == "*" else re.sub(r"\\(.)", r"\1", raw))
            i = len(s) - len(s[i:].lstrip())
            if expect_to:
                if s[i : i + 2] != "TO" or not s[i + 2 : i + 3].isspace():
                    raise self.error("a range is [low TO high], * for an open end", start)
                i += 2
        if i >= len(s) or s[i] not in "]}":
            raise self.error("a range is not closed with ] or }", start)
        self.tokens.append(_Token("range", (s[start] == "[", bounds[0], bounds[1], s[i] == "]"), start))
        return i + 1

    # -- the grammar, after Lucene's: Query := [Modifier] Clause ([AND|OR] [Modifier] Clause)* --
    def peek(self, ahead: int = 0) -> _Token | None:
        return self.tokens[self.i + ahead] if self.i + ahead < len(self.tokens) else None

    def query(self, depth: int, field: str | None) -> str:
        parts: list[str] = []
        while (token := self.peek()) is not None and token.kind != ")":
            if token.kind in ("AND", "OR"):
                if not parts:
                    raise self.error(f"{token.text} needs a clause before it", token.at)
                parts.append(token.kind)
                self.i += 1
                token = self.peek()
            modifier = ""
            if token is not None and token.kind in ("+", "-", "NOT"):
                modifier = "NOT " if token.kind == "NOT" else token.kind
                self.i += 1
            parts.append(modifier + self.clause(depth, field))
        if not parts:
            raise self.error("empty parentheses" if depth else "nothing to search for", token and token.at)
        return " ".join(parts)

    def clause(self, depth: int, group_field: str | None) -> str:
        token, after = self.peek(), self.peek(1)
        explicit = ""
        if token is not None and token.kind in ("word", "star", "prefix") and after and after.kind == ":":
            self.i += 2
            if token.kind == "star":  # *:* is every product; no other * field
                if (value := self.peek()) is None or value.kind != "star":
                    raise self.error("only *:* may use * as a field", token.at)
                self.i += 1
                return self.count("*:*")
            explicit = self.field(token) + ":"
            token = self.peek()
        if token is None:
            raise self.error("the query ends where a term was expected")
        self.i += 1
        field = explicit[:-1] or group_field
        if token.kind == "(":
            if depth >= MAX_DEPTH:
                raise self.error(f"nested deeper than {MAX_DEPTH} parentheses", token.at)
            inner = self.query(depth + 1, field) if self.peek() is not None else None
            if inner is None or self.peek() is None:
                raise self.error("a parenthesis is not closed", token.at)
            self.i += 1
            return f"{explicit}({inner})"
        if token.kind == "word":
            return self.count(explicit + _escape(token.text))
        if token.kind == "prefix":
            return self.count(explicit + _escape(token.text) + "*")
        if token.kind == "phrase":
            return self.count(explicit + phrase(token.text))
        if token.kind == "star" and explicit:  # field:* is every product with a value in it
            return self.count(explicit + "*")
        if token.kind == "range":
            if self.keywords:
                raise self.error("ranges are filters (fq), not keywords", token.at)
            if field is None:
                raise self.error("a range needs a field, as in price:[10 TO 50]", token.at)
            low_in, low, high, high_in = token.text
            bounds = " TO ".join("*" if b is None else phrase(b) for b in (low, high))
            return self.count(f"{explicit}{'[' if low_in else '{'}{bounds}{']' if high_in else '}'}")
        if token.kind == "star":
            raise self.error("a bare * matches nothing; write field:* or *:*", token.at)
        if token.kind == ":":
            raise self.error("a ':' follows a field name only (escape a literal one as \\:)", token.at)
        raise self.error(f"{token.text!r} where a term was expected", token.at)

    def field(self, token: _Token) -> str:
        name = token.text
        if token.kind != "word" or not token.plain or not FIELD.fullmatch(name):
            raise self.error(f"{name!r} is not a field name", token.at)
        if self.keywords and name not in KEYWORD_FIELDS:
            reason = f"fielded keywords are on {', '.join(KEYWORD_FIELDS)}"
            raise self.error(f'"{name}" is not a keyword field: {reason}', token.at)
        if not self.fields(name) or name in OWN_FIELDS or name in _MAGIC:
            raise self.error(_not_a_field(name), token.at)
        return name

    def count(self, clause: str) -> str:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise self.error(f"more than {MAX_CLAUSES} terms")
        return clause


def _escape(text: str) -> str:
    """A term as Lucene reads it back: every character that is not a letter, a digit or one of
    ``_.,'`` escaped, and a term spelt like an operator escaped too."""
    if text in _OPERATORS:
        return "\\" + text
    return "".join(c if c.isalnum() or c in "_.,'" else "\\" + c for c in text)


def phrase(text: str) -> str:
    """A value as one quoted Lucene phrase, whatever characters it holds."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
