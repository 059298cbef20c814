"""The query syntax of ``fq``, ``text`` and ``facets`` (embedder/querysyntax.py): the accepted forms
and their canonical strings, each refused construct with its message, random input (the parser
returns or raises BadInput, nothing else), the field allowlist against the schema, and the same
through the real sidecar and the real local Solr: the canonical strings match what the caller's
did, and the constructs of the issue (``_val_``, ``{!xmlparser}``, 2000 parentheses,
``model_meta:*``, ``kind:*``) are 400s naming the construct."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from embedder import client, contract, querysyntax
from embedder.errors import BadInput
from tests.helpers import REPO, fuzz_settings

KEYWORDS_Q = "{!edismax qf=$qf uf=$uf mm=100% v=$kw}"

# (what a caller sends, the canonical string Solr gets)
ACCEPTED = [
    ("category:tshirt", "category:tshirt"),
    ('category:"tshirt"', 'category:"tshirt"'),
    ("price:[10 TO 50]", 'price:["10" TO "50"]'),
    ("price:{* TO 50]", 'price:{* TO "50"]'),
    ('price:["10" TO *}', 'price:["10" TO *}'),
    ("-color:red", "-color:red"),
    ("+color:red", "+color:red"),
    ("NOT color:red", "NOT color:red"),
    ("!color:red", "NOT color:red"),
    ("attr_style:hawaiian", "attr_style:hawaiian"),
    ("(category:tshirt OR category:shirt) AND color:red", "(category:tshirt OR category:shirt) AND color:red"),
    ("category:tshirt && color:red || color:blue", "category:tshirt AND color:red OR color:blue"),
    ('attr_style:("hawaiian" OR "floral")', 'attr_style:("hawaiian" OR "floral")'),  # the page's multi-select
    ('color:"say \\"hi\\" \\\\ {x}"', 'color:"say \\"hi\\" \\\\ {x}"'),  # the page's quote() of odd values
    ('cluster_id:"3"', 'cluster_id:"3"'),
    ("price:([1 TO 5] OR [50 TO *])", 'price:(["1" TO "5"] OR ["50" TO *])'),
    ("color:*", "color:*"),
    ("*:*", "*:*"),
    ("attributes:stri*", "attributes:stri*"),
    ("title:t-shirt", "title:t\\-shirt"),
    ("brand:H&M", "brand:H\\&M"),
    ("text:(summer dress)", "text:(summer dress)"),
    ("title : linen", "title:linen"),
    ("\\AND", "\\AND"),  # a term spelt like an operator stays a term
    ("filter(color:red)", "filter (color:red)"),  # a term and a group: never Solr's filter(...)
    ("color_s:red size_i:[1 TO 3] note_t:x tags_ss:y ratio_f:1.5", None),
    ("(" * 10 + "a" + ")" * 10, "(" * 10 + "a" + ")" * 10),
    (" OR ".join(f"id:SKU{n:04d}" for n in range(100)), None),
]

# (what a caller sends, a part of the message)
REFUSED = [
    ('_val_:"sum(1,1)"', '"_val_" is not a field of the catalog: function queries are not accepted'),
    ('_val_:"query($kw)"', '"_val_" is not a field of the catalog'),
    ("_query_:x", '"_query_" is not a field of the catalog: nested queries are not accepted'),
    ("{!xmlparser v=$x}", "local parameters ({!...}) are not accepted"),
    ("{!tag=c}category:tshirt", "local parameters ({!...}) are not accepted"),
    ("color:red {!func}x", "local parameters ({!...}) are not accepted"),
    ('color:"{!xmlparser}"', "local parameters ({!...}) are not accepted"),
    ("color:\\{!x", "local parameters ({!...}) are not accepted"),
    ('price:["{!x}" TO *]', "local parameters ({!...}) are not accepted"),
    ("(" * 2000 + "a" + ")" * 2000, "nested deeper than 10 parentheses"),
    ("(" * 11 + "a" + ")" * 11, "nested deeper than 10 parentheses"),
    (" OR ".join(f"id:SKU{n:04d}" for n in range(101)), "more than 100 terms"),
    ("id:" + "x" * 5001, "longer than 5000 characters"),
    ("kind:*", '"kind" is not a field of the catalog: it is the collection\'s own'),
    ("model_meta:*", '"model_meta" is not a field of the catalog'),
    ("model_blob:x", '"model_blob" is not a field of the catalog'),
    ("image_vector:abc", '"image_vector" is not a field of the catalog'),
    ("_version_:[0 TO *]", '"_version_" is not a field of the catalog'),
    ("nope:x", '"nope" is not a field of the catalog'),
    ("x_vec2048:x", '"x_vec2048" is not a field of the catalog'),
    ("attr-x:y", "'attr-x' is not a field name"),
    ("title:(", "a parenthesis is not closed"),
    ("(a", "a parenthesis is not closed"),
    ("a)", "a ')' closes no parenthesis"),
    ("()", "empty parentheses"),
    ("*abc", "leading wildcards"),
    ("color:*ed", "leading wildcards"),
    ("a*b", "only a trailing *"),
    ("a?", "? wildcards are not accepted"),
    ("a~2", "fuzzy and proximity searches (~) are not accepted"),
    ('"a b"~2', "fuzzy and proximity searches (~) are not accepted"),
    ("a^2", "boosts (^) are not accepted"),
    ("title:/ab.*/", "regular expressions (/.../) are not accepted"),
    ("[1 TO 2]", "a range needs a field"),
    ("price:[1 2]", "a range is [low TO high]"),
    ("price:[1 TO 2", "a range is not closed"),
    ("a]", "a ']' closes no range"),
    ('"abc', "a quoted phrase is not closed"),
    ("x\\", "a backslash at the end escapes nothing"),
    ("a AND", "the query ends where a term was expected"),
    ("AND a", "AND needs a clause before it"),
    ("a OR OR b", "'OR' where a term was expected"),
    ("- a", "a lone '-'"),
    ("a:b:c", '"a" is not a field of the catalog'),
    ("id:a:b", "a ':' follows a field name only"),
    ("*:x", "only *:* may use * as a field"),
    ("*", "a bare * matches nothing"),
]


@pytest.mark.parametrize("given, canonical", ACCEPTED)
def test_accepted_forms_are_rewritten_canonically_and_round_trip(given, canonical):
    written = querysyntax.filter_query(given)
    if canonical is not None:
        assert written == canonical
    assert querysyntax.filter_query(written) == written


@pytest.mark.parametrize("given, message", REFUSED)
def test_each_refused_construct_is_named(given, message):
    with pytest.raises(BadInput) as refused:
        querysyntax.filter_query(given)
    assert str(refused.value).startswith("fq: ") and message in str(refused.value)


def test_messages_say_where_and_show_a_bounded_value():
    with pytest.raises(BadInput, match=r"^fq: .* \(at character 11 of '\(\(\(.*\.\.\.\)$") as refused:
        querysyntax.filter_query("(" * 2000 + "a" + ")" * 2000)
    assert len(str(refused.value)) < 200
    with pytest.raises(BadInput, match=r"^navigation fq: "):
        querysyntax.filter_query("kind:*", "navigation fq")


@pytest.mark.parametrize(
    "given, canonical",
    [
        ("cotton shirt", "cotton shirt"),
        ("men's black/white t-shirt", "men's black\\/white t\\-shirt"),
        ('"striped cotton" -red', '"striped cotton" -red'),
        ("(red OR blue) AND NOT dress", "(red OR blue) AND NOT dress"),
        ("title:linen description:(cotton OR canvas)", "title:linen description:(cotton OR canvas)"),
        ("stri*", "stri*"),
        ("great!", "great\\!"),
    ],
)
def test_keywords_accept_words_phrases_operators_and_the_text_fields(given, canonical):
    assert querysyntax.keywords(given) == canonical


@pytest.mark.parametrize(
    "given, message",
    [
        ("model_meta:*", '"model_meta" is not a keyword field: fielded keywords are on title, description'),
        ("{!xmlparser}<a/>", "text: local parameters ({!...}) are not accepted"),
        ("price:[1 TO 9]", '"price" is not a keyword field'),
        ("title:[a TO b]", "ranges are filters (fq), not keywords"),
        ('_val_:"query($kw)"', '"_val_" is not a keyword field'),
        ("kind:model", '"kind" is not a keyword field'),
    ],
)
def test_keywords_refuse_other_fields_ranges_and_local_parameters(given, message):
    with pytest.raises(BadInput, match=r"^text: ") as refused:
        querysyntax.keywords(given)
    assert message in str(refused.value)


def test_keyword_fields_are_the_clients_text_fields():
    assert set(querysyntax.KEYWORD_FIELDS) == set(client.TEXT_FIELDS.replace("^3", "").split())


@pytest.mark.parametrize("name", ["category", "color", "cluster_id", "pca_version", "attr_style", "title"])
def test_facets_on_catalog_fields(name):
    assert querysyntax.facet_field(name) == name


@pytest.mark.parametrize(
    "name, message",
    [
        ("kind", '"kind" is not a field of the catalog: it is the collection\'s own'),
        ("model_meta", '"model_meta" is not a field of the catalog'),
        ("image_vector", '"image_vector" is not a field of the catalog'),
        ("nope", '"nope" is not a field of the catalog'),
        ("{!ex=x}color", "is not a field name"),
    ],
)
def test_facets_refuse_the_collections_own_and_unknown_fields(name, message):
    with pytest.raises(BadInput, match=r"^facets: ") as refused:
        querysyntax.facet_field(name)
    assert message in str(refused.value)


def test_a_fields_predicate_replaces_the_allowlist_but_never_admits_own_fields():
    def accepts(name: str) -> bool:
        return name in ("size", "kind")

    assert querysyntax.filter_query("size:xl", fields=accepts) == "size:xl"
    for value in ("color:red", "kind:model"):
        with pytest.raises(BadInput, match="is not a field of the catalog"):
            querysyntax.filter_query(value, fields=accepts)


def test_the_allowlist_is_the_schemas_product_fields():
    """PRODUCT_FIELDS and DYNAMIC_FIELDS are solr-config/conf/schema.xml's fields, less the
    collection's own (contract.OWNED_FIELDS, but pca_version, cluster_id and text) and vectors."""
    schema = ET.parse(REPO / "solr-config" / "conf" / "schema.xml").getroot()
    vector_types = {t.get("name") for t in schema.iter("fieldType") if "vector" in t.get("name", "")}
    fields = {f.get("name") for f in schema.iter("field") if f.get("type") not in vector_types}
    dynamic = {f.get("name") for f in schema.iter("dynamicField") if f.get("type") not in vector_types}
    harmless = {contract.VERSION_FIELD, contract.CLUSTER_FIELD, "text"}
    assert fields - (contract.OWNED_FIELDS - harmless) == querysyntax.PRODUCT_FIELDS
    assert set(querysyntax.DYNAMIC_FIELDS) == dynamic
    assert contract.OWNED_FIELDS - harmless == querysyntax.OWN_FIELDS
    assert not any(querysyntax.catalog_field(f) for f in querysyntax.OWN_FIELDS | {"_val_", "_query_", "a_vec2048"})


# -- random input: BadInput or a canonical string, never anything else -------------------------

PIECES = ["(", ")", ":", '"', "[", "]", "{", "}", "{!", "\\", "*", "?", "~", "^", "/", "+", "-", "!", "&&", "||"]
PIECES += [" ", "AND", "OR", "NOT", "TO", "_val_", "_query_", "kind", "color", "price", "red", "10", "$kw", "é"]


@fuzz_settings(max_examples=300)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=40), st.booleans())
@example(["(" * 3000], False)
@example(["color", ":", "(" * 50, "red"], True)
def test_random_input_never_crashes_the_parser(pieces, as_keywords):
    value = "".join(pieces)
    parse = querysyntax.keywords if as_keywords else querysyntax.filter_query
    try:
        written = parse(value)
    except BadInput as error:
        assert str(error).startswith(("text: ", "fq: "))
        return
    assert parse(written) == written  # canonical
    assert "{!" not in written and not re.search(r"(^|[\s(:+-])_(val|query)_:", written)


# -- through the real sidecar and the real local Solr ---------------------------------------------


def search(service_url: str, **body) -> requests.Response:
    return requests.post(f"{service_url}/search", json=body, timeout=60)


SAME_MATCHES = [
    "category:tshirt",
    'category:"tshirt"',
    "price:[10 TO 50]",
    "price:{* TO 50]",
    "-color:red",
    "NOT color:red",
    "color:*",
    "*:*",
    "(category:tshirt OR category:dress) AND color:red",
    'color:("red" OR "blue")',
    "attributes:stri*",
    "title:T-shirt",
    "text:(striped cotton)",
    "brand:Acme OR brand:Pico",
    "price:([1 TO 20] OR [100 TO *])",
]


@pytest.mark.parametrize("given", SAME_MATCHES)
def test_the_canonical_filter_matches_what_the_callers_did(demo_index, given):
    expected = demo_index.count([given])
    assert demo_index.count([querysyntax.filter_query(given)]) == expected
    assert expected > 0


@pytest.mark.parametrize(
    "given", ["striped cotton", "T-shirt", '"striped cotton"', "red -dress", "(red OR blue) AND linen", "stri*"]
)
def test_canonical_keywords_match_what_the_callers_did(demo_index, given):
    params = {"q": KEYWORDS_Q, "qf": client.TEXT_FIELDS, "uf": client.TEXT_FIELDS.replace("^3", ""), "rows": 0}
    expected = demo_index.search(**params, kw=given).hits
    assert demo_index.search(**params, kw=querysyntax.keywords(given)).hits == expected > 0


@pytest.mark.parametrize(
    "body, message",
    [
        ({"fq": ['_val_:"sum(1,1)"']}, 'fq: "_val_" is not a field of the catalog'),
        ({"fq": ['_val_:"query($kw)"'], "text": "{!xmlparser}<a/>"}, 'fq: "_val_" is not a field of the catalog'),
        ({"text": "{!xmlparser}<a/>"}, "text: local parameters ({!...}) are not accepted"),
        ({"fq": ["(" * 2000 + "color:red" + ")" * 2000]}, "fq: nested deeper than 10 parentheses"),
        ({"text": "model_meta:*"}, 'text: "model_meta" is not a keyword field'),
        ({"fq": ["kind:*"]}, 'fq: "kind" is not a field of the catalog'),
        ({"fq": ["id:_lookalike_* OR model_meta:*"]}, 'fq: "model_meta" is not a field of the catalog'),
        ({"facets": ["model_blob"]}, 'facets: "model_blob" is not a field of the catalog'),
        ({"id": "SKU0001", "fq": ["{!frange l=0 u=1}sqdist(image_vector,$qv)"]}, "local parameters"),
    ],
)
def test_the_issues_constructs_get_a_400_naming_them(service_url, body, message):
    response = search(service_url, **body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "route, body",
    [
        ("/recommend", {"like": ["SKU0001"], "fq": ["kind:*"]}),
        ("/tag/preview", {"attribute": "a", "value": "b", "example_ids": ["SKU0001"], "fq": ["_val_:x"]}),
        ("/navigate/start", {"size": 4, "fq": ["(" * 2000]}),
        ("/recommend", {"like": ["SKU0001"], "text": "model_meta:*"}),
    ],
)
def test_every_route_that_takes_filters_checks_them(service_url, route, body):
    response = requests.post(f"{service_url}{route}", json=body, timeout=60)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    "fq",
    [
        ["category:tshirt"],
        ['category:"tshirt"'],
        ["price:[10 TO 50]"],
        ["-color:red"],
        ["(category:tshirt OR category:shirt) AND color:red"],
        ['color:("red" OR "blue")', 'brand:"Acme"'],
        ["attr_style:hawaiian"],
        ['cluster_id:"0"'],
    ],
)
def test_ordinary_filters_keep_working(service_url, demo_index, fq):
    response = search(service_url, fq=fq, k=100, facets=["category", "color"])
    assert response.status_code == 200, response.text
    assert response.json()["total"] == demo_index.count(fq)
    assert not any(contract.is_reserved_id(r["id"]) for r in response.json()["results"])


def test_keywords_and_a_form_post_keep_working(service_url, demo_index):
    form = requests.post(
        f"{service_url}/search", data={"text": "striped cotton", "fq": ['color:"red"', "price:[* TO 200]"]}, timeout=60
    )
    assert form.status_code == 200, form.text
    assert form.json()["total"] == demo_index.count(["text:(striped cotton)", "color:red"]) > 0
    for blank in ("", "   "):  # the page sends its empty keyword box as ""
        answer = search(service_url, text=blank, k=1)
        assert answer.status_code == 200 and answer.json()["total"] == 60, answer.text


def test_the_service_error_is_json_with_the_message(service_url):
    response = requests.post(
        f"{service_url}/search", data=json.dumps({"fq": ["title:("]}), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "a parenthesis is not closed" in response.json()["error"]
