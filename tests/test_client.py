"""The client's query building, visual search over HTTP against a brute-force reference, and
reading, untagging and deleting products."""

from __future__ import annotations

import numpy as np
import pytest

from embedder import contract, state, tagging
from embedder.client import LookalikeClient, Query
from embedder.errors import BadInput, NotFound
from embedder.solr import SolrIndex

DIM = contract.DEFAULT_DIMENSION
CATEGORIES = ("shirt", "shoe", "bag")


V = [0.5, -1.0, 2.0]


def test_visual_query_params():
    params = Query(vector=V, k=7, start=14, max_dist=2.5, model="v1", fq=["color:red"]).to_params()
    assert params["q"] == "{!visual f=image_vector v=$qv maxDist=2.5 model=$qmodel}" and params["qmodel"] == "v1"
    assert contract.decode_vector(params["qv"]).tolist() == V
    assert (params["rows"], params["start"], params["minExactCount"]) == (7, 14, 21)
    assert params["fq"] == ["color:red"]
    assert "distance:sqdist(image_vector,$qv)" in params["fl"]


def test_search_by_id_is_resolved_by_solr_and_leaves_the_product_out():
    params = Query(id="SKU,1", k=3).to_params()
    assert params["q"] == "{!visual f=image_vector id=$qid}" and params["qid"] == "SKU,1"
    assert params["excluded"].split(params["excludedsep"]) == ["SKU,1"] and params["excludedsep"] != ","


def test_keywords_filter_a_visual_query_or_add_to_its_score():
    filtered = Query(vector=V, text="red shirt").to_params()
    assert filtered["q"].startswith("{!visual") and filtered["kw"] == "red shirt"
    assert filtered["fq"] == ["{!edismax qf=$qf uf=$uf mm=100% v=$kw}"]
    hybrid = Query(vector=V, text="red shirt", hybrid=True, max_dist=1.0).to_params()
    assert hybrid["q"] == "{!bool should=$vis should=$kwq}"
    assert hybrid["fq"] == [hybrid["vis"].replace(" score=", " cache=false score=")]  # a post filter


def test_examples_exclusions_and_facets():
    params = Query(like=["A", "B,b"], unlike=["C\\"], exclude=["A", "x,y"], facets=["color"]).to_params()
    assert params["q"] == "{!visual f=image_vector like=$like unlike=$unlike}"
    assert (params["like"], params["unlike"]) == ("A,B\\,b", "C\\\\")
    assert params["excluded"].split(params["excludedsep"]) == ["A", "x,y"]
    assert "{!bool filter=*:* must_not=$excludedq}" in params["fq"]
    assert params["facet.field"] == ["color"]


def test_a_weights_ranking_sends_the_weights_and_bias_and_reads_its_scores_back():
    params = Query(weights=V, bias=-0.25, k=4, text="red").to_params()
    assert params["q"] == "{!visual f=image_vector weights=$qw bias=-0.25}" and params["kw"] == "red"
    assert contract.decode_vector(params["qw"]).tolist() == V


def test_keywords_alone_are_a_keyword_search_and_nothing_is_everything():
    params = Query(text="shirt").to_params()
    assert params["q"] == "{!edismax qf=$qf uf=$uf mm=100% v=$kw}" and "qv" not in params
    assert Query().to_params()["q"] == "*:*"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 0},
        {"k": 5000},
        {"k": 2.5},
        {"start": -1},
        {"probe": 0},
        {"max_dist": -1.0},
        {"max_dist": float("nan")},
        {"unlike": ["A"]},
        {"vector": V, "like": ["A"]},
        {"id": "A", "like": ["B"]},
        {"like": ["A"], "unlike_weight": float("inf")},
        {"like": ["A"], "mode": "filter"},
        {"like": ["A"] * 101},
        {"facets": ["not a field"]},
        {"kk": 3},
        {"text": "shirt", "max_dist": 1.0},
        {"probe": 2},
        {"weights": V, "like": ["A"]},
        {"weights": V, "unlike": ["A"]},
        {"weights": V, "max_dist": 1.0},
        {"weights": V, "probe": 2},
        {"weights": V, "text": "shirt", "hybrid": True},
        {"weights": V, "bias": float("nan")},
        {"bias": 1.0},
        {"vector": V, "bias": 1.0},
    ],
)
def test_bad_queries_are_refused_before_reaching_solr(kwargs):
    with pytest.raises(BadInput):
        Query(**kwargs)


@pytest.fixture
def random_products(index: SolrIndex):
    rng = np.random.default_rng(42)
    vectors = rng.normal(size=(300, DIM)).astype(np.float32) * np.linspace(3, 0.1, DIM, dtype=np.float32)
    docs = [
        {
            "id": f"R{i:03d}",
            "title": f"product {i} {'cotton' if i % 2 else 'linen'}",
            "category": CATEGORIES[i % 3],
            contract.VECTOR_FIELD: contract.encode_vector(v),
            contract.VERSION_FIELD: "test",
        }
        for i, v in enumerate(vectors)
    ]
    docs.append({"id": "NOVEC", "title": "product without an image", "category": "shirt"})
    index.add(docs)
    index.commit()
    return vectors


def brute_force(vectors: np.ndarray, query: np.ndarray, allowed=None) -> list[tuple[str, float]]:
    distances = ((vectors.astype(np.float64) - query) ** 2).sum(axis=1)
    order = np.argsort(distances, kind="stable")
    return [(f"R{i:03d}", distances[i]) for i in order if allowed is None or allowed(i)]


def test_search_by_vector_equals_brute_force(index, random_products):
    client = LookalikeClient(index)
    query = np.random.default_rng(7).normal(size=DIM).astype(np.float32)
    hits = client.search(vector=query, k=10)
    expected = brute_force(random_products, query)[:10]
    assert [h.id for h in hits] == [i for i, _ in expected]
    np.testing.assert_allclose([h.distance for h in hits], [d for _, d in expected], rtol=1e-5)
    np.testing.assert_allclose([h.score for h in hits], [1 / (1 + d) for _, d in expected], rtol=1e-5)


def test_a_weights_ranking_equals_the_brute_force_linear_ranking_under_filters(index, random_products):
    client = LookalikeClient(index)
    rng = np.random.default_rng(11)
    weights, bias = rng.normal(size=DIM).astype(np.float32), -3.5
    hits = client.search(weights=weights, bias=bias, fq=["category:bag"], k=12, model="test")
    values = random_products.astype(np.float64) @ weights + bias
    expected = [i for i in np.argsort(-values, kind="stable") if i % 3 == 2][:12]
    assert [h.id for h in hits] == [f"R{i:03d}" for i in expected]  # NOVEC, without a vector, never matches
    np.testing.assert_allclose([h.score for h in hits], values[expected], rtol=1e-5, atol=1e-4)
    assert all(h.distance is None for h in hits)


def test_filters_and_keywords_give_the_filtered_brute_force_top_k(index, random_products):
    client = LookalikeClient(index)
    query = random_products[5] + 0.01
    hits = client.search(vector=query, text="cotton", fq=["category:shoe"], k=8)
    expected = brute_force(random_products, query, allowed=lambda i: i % 3 == 1 and i % 2 == 1)[:8]
    assert [h.id for h in hits] == [i for i, _ in expected]
    assert all(h.fields["category"] == "shoe" for h in hits)


def test_max_dist_keeps_exactly_the_documents_within_it(index, random_products):
    client = LookalikeClient(index)
    query = random_products[10]
    reference = brute_force(random_products, query)
    threshold = (reference[4][1] + reference[5][1]) / 2
    hits = client.search(vector=query, max_dist=threshold, k=50)
    assert [h.id for h in hits] == [i for i, _ in reference[:5]]


def test_search_by_id_finds_lookalikes_and_leaves_the_product_out(index, random_products):
    hits = LookalikeClient(index).search(id="R020", k=5)
    expected = [i for i, _ in brute_force(random_products, random_products[20]) if i != "R020"][:5]
    assert [h.id for h in hits] == expected


def test_hybrid_adds_keyword_relevance_to_visual_similarity(index, random_products):
    client = LookalikeClient(index)
    query = random_products[3]
    visual_only = client.search(vector=query, k=300)
    hybrid = client.search(vector=query, text="cotton", hybrid=True, k=300)
    visual_score = {h.id: h.score for h in visual_only}
    for hit in hybrid:
        keyword_part = hit.score - visual_score[hit.id]
        is_cotton = int(hit.id[1:]) % 2 == 1
        assert (keyword_part > 1e-6) == is_cotton, hit


def test_unknown_id_and_wrong_dimension_are_clear_errors(index, random_products):
    client = LookalikeClient(index)
    with pytest.raises(BadInput, match="NOPE"):
        client.search(id="NOPE")
    with pytest.raises(BadInput, match="1024"):
        client.search(vector=np.ones(DIM - 1))


def test_indexing_a_wrong_length_vector_is_refused_and_names_the_field(index):
    with pytest.raises(BadInput, match="image_vector"):
        index.add([{"id": "BAD", contract.VECTOR_FIELD: contract.encode_vector(np.ones(3))}])
    assert index.get(["BAD"]) == {}


def test_products_are_read_untagged_and_deleted_through_the_client(index, random_products, tmp_path):
    client = LookalikeClient(index)
    state.record_catalog_directory(index, tmp_path)  # one of the collection's own documents
    tagging.apply(index, tagging.Attribute("style", "hawaiian"), ["R001", "R002", "R003"])
    hit = client.get("R001")
    assert hit.id == "R001" and hit.distance is None and contract.VECTOR_FIELD not in hit.fields
    assert hit.fields["title"] == "product 1 cotton" and hit.fields["tag_style"] == ["hawaiian"]
    assert client.get("NOPE") is None and client.get(contract.CATALOGS_DOC_ID) is None

    assert client.untag("style", "hawaiian", ["R001"]) == 1
    assert [d["id"] for d in index.stream("id", fq=['tag_style:"hawaiian"'])] == ["R002", "R003"]
    assert client.untag("style", "hawaiian") == 2 and index.count(['tag_style:"hawaiian"']) == 0
    assert client.get("R002").fields["title"] == "product 2 linen"  # the rest of the product is kept

    with pytest.raises(NotFound, match="NOPE"):
        client.delete(["R004", "NOPE"])
    assert client.get("R004") is not None  # nothing was deleted
    assert client.delete(["R004", "R005", "R004"]) == 2
    assert client.get("R004") is None and client.get("R005") is None and index.count() == 299
    with pytest.raises(BadInput, match="own documents"):
        client.delete([contract.CATALOGS_DOC_ID])
    assert index.get([contract.CATALOGS_DOC_ID])
