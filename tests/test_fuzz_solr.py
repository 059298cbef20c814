"""Bad input to the Solr plugin in bulk (property-based), over real HTTP to the local Solr holding
the demo catalog: the {!visual} parser's parameters, sqdist()'s arguments and the vector field's
input at index time (JSON arrays, base64, XML repeated values, strings, nested objects, atomic
updates, every length), generated with NaN, infinities, numbers too large for float32 (1e39),
malformed base64 and malformed arrays.

Properties: a Python model of docs/vector-format.md and docs/query-syntax.md says whether each
input is valid; Solr answers 200 to the valid ones and 400 with a non-empty message to the others
(never a 5xx); Solr keeps answering /admin/ping; and the documents indexed before (ids, vectors,
every field) are exactly the same after."""

from __future__ import annotations

import base64
import json
import math
import re
from xml.sax.saxutils import escape

import numpy as np
import pytest
import requests
from hypothesis import assume, event, example, given
from hypothesis import strategies as st

from embedder import contract, state
from tests.helpers import all_vectors, fuzz_settings, index_snapshot

DIM = contract.DEFAULT_DIMENSION
DIM_2048 = contract.RAW_DIMENSION
DEMO_IDS = [f"SKU{n:04d}" for n in range(1, 61)]
CONFLICT = "conflict"  # a valid query of another PCA model than the index's: 409
REJECT = "reject"  # the model's verdicts: a float32 vector (valid), REJECT, or UNKNOWN
UNKNOWN = "unknown"  # (an input whose verdict the documents leave open: only "no 5xx" is checked)


# -- a model of the vector format (docs/vector-format.md) ---------------------------------------

NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
BASE64 = re.compile(r"[A-Za-z0-9+/]*")


def _finite32(values: list[float]) -> np.ndarray | str:
    """float32 components, refused when not finite or when a distance could overflow: components
    beyond 2^62, a squared norm beyond 2^124 (docs/vector-format.md)."""
    with np.errstate(over="ignore", invalid="ignore"):
        vector = np.asarray(values, dtype=np.float64).astype("<f4")
        if not np.all(np.isfinite(vector)) or np.any(np.abs(vector) > 2.0**62):
            return REJECT
        norm = float(np.sum(vector.astype(np.float64) ** 2))
    if abs(norm - 2.0**124) < 2.0**124 * 1e-9:
        return UNKNOWN  # at the bound, the order of the double sum decides
    return vector if norm <= 2.0**124 else REJECT


def parse_text(text: str):
    """What VectorFormat.parse makes of a string: JSON-array text or base64."""
    text = text.strip()
    if text.startswith("["):
        if not text.endswith("]"):
            return REJECT
        inner = text[1:-1].strip()
        parts = inner.split(",") if inner else []
        if not all(NUMBER.fullmatch(p.strip()) for p in parts):
            return REJECT
        return _finite32([float(p) for p in parts])
    body, padding = text.rstrip("="), len(text) - len(text.rstrip("="))
    if not BASE64.fullmatch(body):
        return REJECT
    if padding and (len(text) % 4 or padding > 2):
        return UNKNOWN  # irregular padding: java.util.Base64 and Python disagree on some
    if len(body) % 4 == 1:
        return REJECT
    raw = base64.b64decode(body + "=" * (-len(body) % 4))
    if len(raw) % 4:
        return REJECT
    return _finite32(np.frombuffer(raw, dtype="<f4").astype(np.float64).tolist())


def parse_element(value) -> float | str:
    """One element of a JSON array or one repeated XML value."""
    if isinstance(value, bool) or value is None:
        return REJECT
    if isinstance(value, (int, float)):
        return float(value) if not isinstance(value, int) or abs(value) < 1e300 else math.inf
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        return float(value.strip())
    return REJECT


def parse_value(value):
    """What a document's field value becomes: a JSON array (or repeated XML values) element by
    element, a string as text, a number as a one-component vector."""
    if isinstance(value, list):
        elements = [parse_element(v) for v in value]
        return REJECT if REJECT in elements else _finite32(elements)
    if isinstance(value, str):
        return parse_text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite32([parse_element(value)])
    return REJECT


def verdict(parsed, dimension: int):
    if isinstance(parsed, str):
        return parsed
    return parsed if len(parsed) == dimension else REJECT


def is_(outcome, word: str) -> bool:
    """outcome is a verdict word (an accepted vector is an array, never equal to a word)."""
    return isinstance(outcome, str) and outcome == word


# -- generated vectors in every written form ----------------------------------------------------

SPECIAL = [math.nan, math.inf, -math.inf, 1e39, -1e39, 3.4028234e38, 3.5e38, 1e-46, -0.0, 5e-324]
JSON_SPECIAL = {"nan": ["NaN", "nan", "-NaN"], "inf": ["Infinity", "inf", "+Infinity"], "-inf": ["-Infinity", "-inf"]}


@st.composite
def components(draw, dimension: int = DIM) -> np.ndarray:
    """A float64 vector: mostly the right length, normal values at some scale, a few specials."""
    length = (
        dimension
        if draw(st.integers(0, 9)) < 7
        else draw(
            st.one_of(
                st.sampled_from([0, 1, dimension - 1, dimension + 1, 2 * dimension]), st.integers(0, 2 * dimension + 3)
            )
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.normal(size=length) * draw(st.sampled_from([1.0, 1.0, 1.0, 1e-3, 1e3, 1e19, 1e38]))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3])) if length else 0):
        values[draw(st.integers(0, length - 1))] = draw(st.sampled_from(SPECIAL))
    return values


def token(value: float, style: int) -> str:
    if math.isnan(value):
        return JSON_SPECIAL["nan"][style % 3]
    if math.isinf(value):
        key = "inf" if value > 0 else "-inf"
        return JSON_SPECIAL[key][style % len(JSON_SPECIAL[key])]
    return [repr(value), f"{value:.9g}", f"{value:e}", f"{value:.3E}"][style % 4]


BASE64_DAMAGE = ["none"] * 9 + [
    "strip-padding",
    "space-inside",
    "url-safe",
    "drop-last",
    "star",
    "surrounding-space",
    "extra-padding",
    "cut-bytes",
    "newline",
]
ARRAY_DAMAGE = ["none"] * 9 + [
    "no-close",
    "trailing-comma",
    "empty-item",
    "quoted",
    "word",
    "hex",
    "nested",
    "spaces",
    "plus-and-dots",
    "bare-number",
]


@st.composite
def vector_texts(draw, dimension: int = DIM) -> str:
    """A vector written as base64 or JSON-array text, sometimes damaged."""
    values = draw(components(dimension))
    if draw(st.booleans()):
        with np.errstate(over="ignore", invalid="ignore"):
            raw = values.astype("<f4").tobytes()
        damage = draw(st.sampled_from(BASE64_DAMAGE))
        if damage == "cut-bytes" and raw:
            raw = raw[: -draw(st.integers(1, min(3, len(raw))))]
        text = base64.b64encode(raw).decode()
        if damage == "strip-padding":
            text = text.rstrip("=")
        elif damage == "space-inside" and len(text) > 2:
            text = text[:2] + " " + text[2:]
        elif damage == "url-safe":
            text = text.replace("+", "-").replace("/", "_")
        elif damage == "drop-last" and text:
            text = text.rstrip("=")[:-1]
        elif damage == "star":
            text = "*" + text
        elif damage == "surrounding-space":
            text = f" \n{text}\t "
        elif damage == "extra-padding":
            text += "="
        elif damage == "newline" and len(text) > 76:
            text = text[:76] + "\n" + text[76:]
        return text
    style = draw(st.integers(0, 11))
    items = [token(v, style + i) for i, v in enumerate(values.tolist())]
    damage = draw(st.sampled_from(ARRAY_DAMAGE))
    position = draw(st.integers(0, max(len(items) - 1, 0)))
    if items and damage in ("empty-item", "quoted", "word", "hex", "nested", "plus-and-dots"):
        items[position] = {
            "empty-item": "",
            "quoted": f'"{items[position]}"',
            "word": "abc",
            "hex": "0x10",
            "nested": f"[{items[position]}]",
            "plus-and-dots": draw(st.sampled_from(["+1.5", ".5", "5.", "-.5e-3"])),
        }[damage]
    separator = ",\n  " if damage == "spaces" else ", "
    text = "[" + separator.join(items) + ("," if damage == "trailing-comma" else "") + "]"
    if damage == "no-close":
        text = text[:-1]
    if damage == "bare-number" and items:
        text = items[0]
    return text


# -- the server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def solr(demo_index, demo_snapshot) -> str:
    return demo_index.url


@pytest.fixture(scope="module")
def demo_vectors(demo_index) -> dict[str, np.ndarray]:
    return all_vectors(demo_index)


@pytest.fixture(scope="module")
def version(demo_index) -> str:
    """The demo's PCA model version (what model= must name)."""
    return state.load_model(demo_index).version


@pytest.fixture(autouse=True)
def nothing_breaks(demo_index, demo_snapshot):
    """After every test: Solr answers its ping and the indexed documents are exactly as before."""
    yield
    ping = requests.get(f"{demo_index.url}/admin/ping", params={"wt": "json"}, timeout=30)
    assert ping.status_code == 200, ping.text
    assert index_snapshot(demo_index) == demo_snapshot


def answer(response: requests.Response) -> tuple[int, str | None, dict | None]:
    """Status, Solr's error message (None when it succeeded) and the body; no 5xx, and every
    error is Solr's JSON error with a non-empty message."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:2000]}"
    body = response.json()
    if response.status_code == 200:
        return 200, None, body
    message = body.get("error", {}).get("msg", "")
    assert 400 <= response.status_code < 500 and message.strip(), response.text[:2000]
    return response.status_code, message, body


def select(solr: str, **params) -> tuple[int, str | None, dict | None]:
    return answer(requests.post(f"{solr}/select", data={"wt": "json", **params}, timeout=60))


def expect(status: int, message: str | None, outcome, context: object) -> None:
    event(f"{status} ({outcome if isinstance(outcome, str) else 'valid'})")  # --hypothesis-show-statistics
    if is_(outcome, UNKNOWN):
        return
    if is_(outcome, REJECT):
        assert status == 400, f"accepted bad input {context!r}"
    elif is_(outcome, CONFLICT):
        assert status == 409, f"a query of another PCA model was not a conflict {context!r}: {message}"
    else:
        assert status == 200, f"refused good input {context!r}: {message}"


# -- {!visual} ----------------------------------------------------------------------------------

NUMBER_TEXTS = [
    "0",
    "12.5",
    "-1",
    "-0",
    "1e39",
    "3.4028234e38",
    "1e-50",
    "NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "",
    " ",
    "abc",
    "1,5",
    "1e",
    "+3",
    ".5",
    " 7 ",
    "1e308",
    "1e400",
    "0.0000001",
]
GOOD_NUMBERS = ["0", "0.5", "1", "2.5", "100", "1e6", "3e3", " 4 ", "1e-3", "1000000", "7.25", "60", "1e30"] * 2
FIELDS = {
    "image_vector": DIM,
    "photo_vec2048": DIM_2048,
    "title": None,
    "id": None,
    "nope": None,
    "": None,
    "image_vector_x": None,
}
OTHER_IDS = ["NOPE", "", " ", contract.MODEL_DOC_ID, "SKU9999", "sku0001", "SKU0001 SKU0002"]


def number_verdict(text: str):
    """Float.parseFloat after strip(), then finite and >= 0 (maxDist, unlikeWeight)."""
    try:
        number = float(text.strip())
    except ValueError:
        return REJECT if re.fullmatch(r"[-+0-9.eE ,a-z]*", text) else UNKNOWN
    with np.errstate(over="ignore"):
        number = float(np.float32(number))
    return "ok" if math.isfinite(number) and number >= 0 else REJECT


@st.composite
def id_lists(draw) -> tuple[str, list[str]]:
    if draw(st.booleans()):
        ids = draw(st.lists(st.sampled_from(DEMO_IDS), min_size=1, max_size=6))
    else:
        ids = draw(st.lists(st.one_of(st.sampled_from(DEMO_IDS), st.sampled_from(OTHER_IDS)), min_size=0, max_size=6))
    if draw(st.integers(0, 9)) == 0:
        ids = DEMO_IDS + DEMO_IDS[:41]  # 101 ids: over the limit
    separator = draw(st.sampled_from([",", ", ", " ,", ",,"]))
    return separator.join(ids), [i.strip() for i in ids if i.strip()]


@st.composite
def visual_queries(draw):
    """A {!visual} query with its parameters in request parameters, and the model's verdict."""
    field = draw(st.sampled_from(["image_vector"] * 6 + sorted(FIELDS)))
    dimension = FIELDS[field] or DIM
    params, local = {}, []
    problems = [] if FIELDS[field] else ["f"]
    if field or draw(st.booleans()):
        params["qf"] = field
        local.append("f=$qf")
    sources = {draw(st.sampled_from(["v", "inline", "id", "like"]))}
    if draw(st.integers(0, 4)) == 0:  # none, or two
        sources = draw(
            st.sets(st.sampled_from(["v", "inline", "id", "like"]), max_size=2).filter(lambda s: s != {"v", "inline"})
        )
    if len(sources) != 1:
        problems.append("sources")
    inline = ""
    for source in sources:
        if source in ("v", "inline"):
            text = draw(vector_texts(dimension))
            outcome = verdict(parse_text(text), dimension)
            if not text.strip():
                outcome = REJECT  # blank: no query vector at all
            problems += ["v"] if is_(outcome, REJECT) else ["?"] if is_(outcome, UNKNOWN) else []
            if source == "v":
                params["qv"] = text
                local.append("v=$qv")
            else:
                inline = text
        elif source == "id":
            params["qid"] = draw(st.sampled_from(DEMO_IDS + OTHER_IDS * 5))
            local.append("id=$qid")
            problems += [] if params["qid"].strip() in DEMO_IDS and field == "image_vector" else ["id"]
        else:
            params["qlike"], ids = draw(id_lists())
            local.append("like=$qlike")
            problems += (
                [] if 1 <= len(ids) <= 100 and set(ids) <= set(DEMO_IDS) and field == "image_vector" else ["like"]
            )
    if draw(st.integers(0, 2)) == 0:
        params["qunlike"], ids = draw(id_lists())
        local.append("unlike=$qunlike")
        unlike_ok = (
            1 <= len(ids) <= 100 and set(ids) <= set(DEMO_IDS) and field == "image_vector"
        )  # the demo's only vectors
        if draw(st.booleans()):
            params["qw"] = draw(st.sampled_from(NUMBER_TEXTS + GOOD_NUMBERS))
            local.append("unlikeWeight=$qw")
            weight = number_verdict(params["qw"])
            unlike_ok = unlike_ok and weight == "ok"
            # a huge weight may take the query point beyond the vectors' bounds: that depends on them
            huge = weight == "ok" and float(params["qw"]) > 1e6
            problems += ["?"] if weight == UNKNOWN or huge else []
        problems += [] if unlike_ok else ["unlike"]
    if draw(st.integers(0, 2)) == 0:
        params["qmax"] = draw(st.sampled_from(NUMBER_TEXTS + GOOD_NUMBERS))
        local.append("maxDist=$qmax")
        distance = number_verdict(params["qmax"])
        problems += [] if distance == "ok" else ["?"] if distance == UNKNOWN else ["maxDist"]
    if draw(st.integers(0, 9)) == 0:  # approximate search: the configset's field types declare no cells
        params["qprobe"] = draw(st.sampled_from(["1", "0", "-1", "x", "", "99999999999", "2.5"]))
        local.append("probe=$qprobe")
        problems.append("probe")
    if draw(st.integers(0, 2)) == 0:
        params["qmodel"] = draw(st.sampled_from(["VERSION"] * 6 + ["", "abc", "VERSION ", "*", "a:b", "\u00e9\u00e8"]))
        local.append("model=$qmodel")
        problems += [] if params["qmodel"] == "VERSION" else ["model"] if params["qmodel"] == "" else ["conflict"]
    local = draw(st.permutations(local))
    params["q"] = "{!visual " + " ".join(local) + "}" + inline
    real = [p for p in problems if p not in ("?", "conflict")]
    # A request is checked itself first (400), then against the index's model (409).
    outcome = REJECT if real else UNKNOWN if "?" in problems else CONFLICT if problems else "ok"
    return params, outcome


@fuzz_settings(max_examples=150)
@given(visual_queries())
@example(({"q": "{!visual f=$qf v=$qv}", "qf": "image_vector", "qv": "[" + ",".join(["1e39"] * DIM) + "]"}, REJECT))
@example(
    (
        {
            "q": "{!visual f=$qf like=$ql unlike=$qu unlikeWeight=$qw}",
            "qf": "image_vector",
            "ql": "SKU0001",
            "qu": "SKU0002",
            "qw": "3e38",
        },
        REJECT,
    )
)  # the query point overflows float32
def test_visual_query_parameters(solr, version, case):
    params, outcome = case
    if params.get("qmodel", "").startswith("VERSION"):
        params = {**params, "qmodel": params["qmodel"].replace("VERSION", version)}
    params.update(fl="id,score", rows="100")
    if "qv" in params and "like" not in params["q"] and "id=" not in params["q"]:
        params["fl"] += ",d:sqdist($qf,$qv)"
    status, message, body = select(solr, **params)
    expect(status, message, outcome, params)
    if status in (400, 409):
        assert re.match(
            r"^(f|v|id|like|unlike|unlikeWeight|maxDist|model|probe|score|weights|bias|v, id, like, weights|sqdist): ",
            message,
        ), message
    else:
        for doc in body["response"]["docs"]:
            assert 0 <= doc["score"] < float("inf"), doc
            if "d" in doc:  # score=rank: Float.MAX_VALUE's bits minus the distance's
                rank = np.int32(0x7F7FFFFF) - np.float32(doc["d"]).view(np.int32)
                assert np.float32(doc["score"]).view(np.int32) == rank, doc


@fuzz_settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1e-3, 1.0, 10.0, 1e6]), st.booleans(), st.integers(0, 59))
def test_visual_queries_by_vector_rank_like_a_brute_force(solr, demo_vectors, seed, scale, as_base64, near):
    """Valid vectors at every scale, in both written forms: Solr's distances are the squared
    distances and its ranking theirs."""
    ids = sorted(demo_vectors)
    matrix = np.stack([demo_vectors[i] for i in ids])
    query = (matrix[near] + np.random.default_rng(seed).normal(size=DIM) * scale).astype("<f4")
    text = contract.encode_vector(query) if as_base64 else json.dumps(query.astype(float).tolist())
    status, message, body = select(
        solr,
        q="{!visual f=image_vector v=$qv}",
        qv=text,
        rows="60",
        fl="id,score,d:sqdist(image_vector,$qv)",
        minExactCount="5",
    )
    assert status == 200, message
    expected = ((matrix - query.astype(np.float64)) ** 2).sum(axis=1)
    got = {doc["id"]: doc["d"] for doc in body["response"]["docs"]}
    assert set(got) == set(ids)
    for i, product in enumerate(ids):
        assert got[product] == pytest.approx(expected[i], rel=1e-4, abs=1e-3)
    scores = [doc["score"] for doc in body["response"]["docs"]]
    assert scores == sorted(scores, reverse=True)
    distances = [doc["d"] for doc in body["response"]["docs"]]
    assert distances == sorted(distances)  # the exact float order, not that of 1 / (1 + d)


def test_like_and_unlike_ids_may_hold_escaped_commas(solr, demo_vectors, cleanup):
    """like= and unlike= are split on commas, and a backslash escapes one inside an id (as in
    /get's ids=); the backslash was kept, so such a product could never be liked."""
    vector = contract.encode_vector(demo_vectors["SKU0001"])
    added = requests.post(
        f"{solr}/update", params={"commit": "true"}, timeout=60, json=[{"id": "FUZZ-A,B", "image_vector": vector}]
    )
    assert added.status_code == 200, added.text
    status, message, body = select(
        solr,
        q="{!visual f=image_vector like=$l unlike=$u unlikeWeight=0}",
        l="FUZZ-A\\,B",
        u="FUZZ-A\\,B",
        fl="id",
        rows="2",
    )
    assert status == 200, message
    assert {doc["id"] for doc in body["response"]["docs"]} == {"FUZZ-A,B", "SKU0001"}


CHAOS_KEYS = ["f", "v", "id", "like", "unlike", "unlikeWeight", "maxDist", "model", "probe"]


@fuzz_settings(max_examples=100)
@given(st.dictionaries(st.sampled_from(CHAOS_KEYS), st.text(max_size=40), max_size=6), st.text(max_size=30))
@example({"like": "\\"}, "")
@example({"f": "image_vector", "like": "'SKU0001,SKU0002"}, "")
@example({"f": "image_vector"}, "[")
@example({"f": "image_vector", "v": "{!visual f=image_vector v=x}"}, "")
def test_visual_query_parameters_of_any_text_never_fail_the_server(solr, params, inline):
    local = " ".join(f"{key}=$p{n}" for n, key in enumerate(params))
    request = {f"p{n}": value for n, value in enumerate(params.values())}
    select(solr, q="{!visual " + local + "}" + inline, **request)
    select(solr, q="*:*", fq="{!visual " + local + "}" + inline, rows="1", **request)


# -- sqdist() -------------------------------------------------------------------------------------

SQDIST_ARGS = [
    "image_vector",
    "photo_vec2048",
    "title",
    "nope",
    "$qv",
    "$nope",
    '"[1,2]"',
    "1.5",
    "sum(1,2)",
    "sqdist(image_vector,$qv)",
    "",
    "$qf",
    "'AACAPwAAAMAAAAA/AAAAAA=='",
    "image_vector,$qv",
]


@st.composite
def sqdist_calls(draw):
    text = draw(vector_texts(DIM))
    args = draw(st.lists(st.sampled_from(SQDIST_ARGS), min_size=0, max_size=3))
    if draw(st.booleans()):
        args = ["image_vector", "$qv"]
    call = "sqdist(" + ",".join(args) + ")"
    outcome = UNKNOWN
    if args == ["image_vector", "$qv"]:
        outcome = verdict(parse_text(text), DIM) if text.strip() else REJECT
    elif not args or args[0] in ("title", "nope", "photo_vec2048") or args[:1] == ["image_vector"] and len(args) == 1:
        outcome = REJECT
    return call, text, outcome


@fuzz_settings(max_examples=120)
@given(sqdist_calls(), st.sampled_from(["fl", "sort", "func", "frange", "boost"]))
@example(("sqdist(image_vector,$qv)", "[" + ",".join(["NaN"] * DIM) + "]", REJECT), "sort")
@example(("sqdist(title,$qv)", "AAAA", REJECT), "fl")
def test_sqdist_arguments(solr, call, where):
    call, text, outcome = call
    params = {"qv": text, "qf": "image_vector", "rows": "3", "fl": "id"}
    if where == "fl":
        params.update(q="*:*", fl=f"id,d:{call}")
    elif where == "sort":
        params.update(q="*:*", sort=f"{call} asc")
    elif where == "func":
        params.update(q="{!func}" + call)
    elif where == "frange":
        params.update(q="*:*", fq="{!frange l=0 u=1e6}" + call)
    else:
        params.update(q="{!boost b=$b}title:shirt", b=f"div(1,sum(1,{call}))")
    status, message, _ = select(solr, **params)
    expect(status, message, outcome, (call, text[:80], where))


# -- the vector field at index time ----------------------------------------------------------------


@st.composite
def field_values(draw):
    """A JSON value for image_vector: a JSON array (numbers, numeric strings, junk elements),
    a string (base64 or array text), a scalar, a nested object or array, and its verdict."""
    kind = draw(st.sampled_from(["array", "array", "text", "text", "scalar", "nested", "elements"]))
    if kind == "text":
        value = draw(vector_texts(DIM))
    elif kind == "array":
        values = draw(components(DIM))
        value = values.tolist()  # json.dumps writes NaN and Infinity, which Solr reads as such
        if value and draw(st.booleans()):
            value[draw(st.integers(0, len(value) - 1))] = draw(
                st.sampled_from(["1.5", " 2 ", "x", "", "NaN", "1e39", True, None, [1.0], {"a": 1}, 10**40])
            )
    elif kind == "scalar":
        value = draw(
            st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.just(""))
        )
    elif kind == "nested":
        inner = draw(vector_texts(DIM))
        value = draw(st.sampled_from([[[1.0] * DIM], [inner, inner], {"a": inner}, [{"id": "child"}], [[1.0], [2.0]]]))
    else:
        value = draw(
            st.lists(st.one_of(st.floats(allow_nan=False), st.text(max_size=5), st.booleans()), min_size=2, max_size=8)
        )
    return value, verdict(parse_value(value), DIM)


def post_update(solr: str, body: str, content_type: str = "application/json") -> tuple[int, str | None]:
    response = requests.post(
        f"{solr}/update",
        params={"commit": "true", "wt": "json"},
        data=body.encode("utf-8"),
        headers={"Content-Type": content_type},
        timeout=60,
    )
    status, message, _ = answer(response)
    return status, message


def check_indexed(solr: str, demo_snapshot, doc_id: str, outcome, status: int, message: str | None, context) -> None:
    """A refused document names itself and the field, and leaves the indexed one as it was; an
    accepted one holds exactly the model's float32 vector."""
    expect(status, message, outcome, context)
    doc = requests.get(f"{solr}/get", params={"id": doc_id, "fl": "*", "wt": "json"}, timeout=30).json()["doc"]
    if doc_id in DEMO_IDS:  # only refused input goes to a demo document
        assert {k: v for k, v in doc.items() if k != "_version_"} == demo_snapshot[doc_id]
    if status == 400:
        assert "image_vector" in message or "JSON" in message or "atomic" in message.lower(), message
    elif not isinstance(outcome, str):
        assert doc["image_vector"] == base64.b64encode(outcome.tobytes()).decode()


def target_id(outcome, draw_id: str) -> str:
    """Refused input goes to a demo document (which must not change); accepted input to a new
    one (deleted afterwards), so that the demo catalog stays as it was."""
    return draw_id if is_(outcome, REJECT) else "FUZZ-NEW"


@pytest.fixture
def cleanup(solr):
    yield
    requests.post(f"{solr}/update", params={"commit": "true"}, json={"delete": {"query": "id:FUZZ-*"}}, timeout=60)


@fuzz_settings(max_examples=120)
@given(field_values(), st.sampled_from(DEMO_IDS), st.sampled_from(["doc", "set", "other-op", "with-title"]))
@example(([float("1e39")] * DIM, REJECT), "SKU0001", "doc")
@example(([10**40] * DIM, REJECT), "SKU0001", "doc")
@example(("AAAA", REJECT), "SKU0002", "set")
@example(([], REJECT), "SKU0003", "doc")
def test_vector_field_values_in_json_updates(solr, demo_snapshot, cleanup, case, demo_id, how):
    value, outcome = case
    if how == "other-op":
        assume(is_(outcome, REJECT))  # add, inc, remove, ... of a valid vector are Solr's business
    doc_id = target_id(outcome, demo_id)
    if how == "doc":
        doc = {"id": doc_id, "image_vector": value}
    elif how == "with-title":
        doc = {"id": doc_id, "title": {"set": "changed by a bad update"}, "image_vector": {"set": value}}
    else:
        op = (
            "set"
            if how == "set"
            else ["add", "inc", "remove", "removeregex", "add-distinct", "bogus"][len(str(value)) % 6]
        )
        doc = {"id": doc_id, "image_vector": {op: value}}
    body = json.dumps([doc])
    status, message = post_update(solr, body)
    check_indexed(solr, demo_snapshot, doc_id, outcome, status, message, doc)


"""One <field> holding base64 or array text, or one <field> per component."""


@fuzz_settings(max_examples=80)
@given(components(DIM), st.sampled_from(DEMO_IDS), st.booleans(), st.data())
def test_vector_field_values_in_xml_updates(solr, demo_snapshot, cleanup, values, demo_id, repeated, data):
    if repeated:
        assume(len(values) > 1)  # no <field> is no vector; one is a single value, as below
        texts = [token(v, n) for n, v in enumerate(values.tolist())]
        if texts and data.draw(st.booleans()):
            texts[data.draw(st.integers(0, len(texts) - 1))] = data.draw(
                st.sampled_from(["x", "", "[1]", "0x1", "1,5"])
            )
        outcome = verdict(parse_value(texts), DIM)
    else:
        texts = [data.draw(vector_texts(DIM))]
        outcome = verdict(parse_text(texts[0]), DIM)
    doc_id = target_id(outcome, demo_id)
    fields = "".join(f'<field name="image_vector">{escape(t)}</field>' for t in texts)
    body = f'<add><doc><field name="id">{doc_id}</field>{fields}</doc></add>'
    status, message = post_update(solr, body, "text/xml")
    check_indexed(solr, demo_snapshot, doc_id, outcome, status, message, body[:200])


@pytest.mark.parametrize(
    "body, content_type",
    [
        ('[{"id":"SKU0001","image_vector":[1,2', "application/json"),
        ('[{"id":"SKU0001","image_vector":' + "[" * 50 + "]" * 50 + "}]", "application/json"),  # (deeper: Solr's
        # own JSON loader overflows its stack, for any field, and drops the connection)
        ('<add><doc><field name="id">SKU0001</field><field name="image_vector">', "text/xml"),
        (
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><add><doc><field name="id">SKU0001</field>'
            '<field name="image_vector">&e;</field></doc></add>',
            "text/xml",
        ),
        (
            '<add><doc><field name="id">SKU0001</field><field name="image_vector" update="inc">1</field></doc></add>',
            "text/xml",
        ),
        ("id,image_vector\nSKU0001,AAAA\n", "application/csv"),
        ('{"add": {"doc": {"id": "SKU0001", "image_vector": {"set": {"set": "AAAA"}}}}}', "application/json"),
    ],
)
def test_malformed_update_requests_change_nothing(solr, demo_snapshot, body, content_type):
    status, message = post_update(solr, body, content_type)
    assert status == 400 and "passwd" not in message and "root:" not in message


@fuzz_settings(max_examples=80)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=12,
    )
)
def test_any_json_as_a_vector_never_fails_the_server(solr, value):
    body = json.dumps([{"id": "FUZZ-CHAOS", "image_vector": value}])
    post_update(solr, body)
    requests.post(f"{solr}/update", params={"commit": "true"}, json={"delete": {"id": "FUZZ-CHAOS"}}, timeout=60)
