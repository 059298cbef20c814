"""The HTTP sidecar over real HTTP (waitress) against the real local Solr: every endpoint, and
a 4xx with a message for every kind of bad input."""

from __future__ import annotations

import base64
from collections import Counter

import pytest
import requests

from embedder import state
from embedder.samples import query_image
from tests.helpers import all_vectors, jpeg


def post(url: str, path: str, **kwargs) -> requests.Response:
    return requests.post(f"{url}{path}", timeout=120, **kwargs)


def test_health_and_openapi_describe_the_service(service_url, demo_index):
    health = requests.get(f"{service_url}/health", timeout=30).json()
    assert health["status"] == "ok" and health["solr"] and health["documents"] == 60
    assert health["pca_version"] == state.load_model(demo_index).version
    spec = requests.get(f"{service_url}/openapi.json", timeout=30).json()
    for path in (
        "/embed",
        "/search",
        "/products",
        "/tag/preview",
        "/tag/apply",
        "/clusters",
        "/navigate/start",
        "/navigate/step",
        "/recommend",
        "/health",
    ):
        assert path in spec["paths"], path
    page = requests.get(service_url, timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_embed_an_upload(service_url, demo_index):
    image = jpeg(query_image("dress", "blue", "dotted"))
    body = post(service_url, "/embed", files={"image": ("q.jpg", image, "image/jpeg")}).json()
    assert body["dimension"] == len(body["vector"]) == 1024
    assert body["pca_version"] == state.load_model(demo_index).version and body["model"].startswith("inceptionv3")


def test_search_by_uploaded_image_with_keywords_and_a_facet(service_url):
    image = jpeg(query_image("tshirt", "red", "striped"))
    response = post(
        service_url,
        "/search",
        files={"image": ("q.jpg", image, "image/jpeg")},
        data={"text": "cotton", "fq": ['color:"red"'], "k": "5"},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert body["results"] and all(r["fields"]["color"] == "red" for r in body["results"])
    assert body["results"][0]["distance"] <= body["results"][-1]["distance"]
    assert body["facets"]["color"] == [["red", body["total"]]]
    image_response = requests.get(f"{service_url}{body['results'][0]['image']}", timeout=30)
    assert image_response.status_code == 200 and image_response.headers["content-type"] == "image/jpeg"


def test_search_by_id_vector_and_keywords(service_url, demo_index):
    vectors = all_vectors(demo_index)
    by_id = post(service_url, "/search", json={"id": "SKU0010", "k": 3}).json()["results"]
    assert "SKU0010" not in [r["id"] for r in by_id]
    by_vector = post(service_url, "/search", json={"vector": vectors["SKU0010"].tolist(), "k": 4}).json()
    assert [r["id"] for r in by_vector["results"]] == ["SKU0010"] + [r["id"] for r in by_id]
    keywords = post(service_url, "/search", json={"text": "linen", "k": 100}).json()
    assert keywords["total"] == 15 and all("linen" in r["fields"]["title"].lower() for r in keywords["results"])


@pytest.mark.parametrize(
    "kwargs, status, message",
    [
        ({"json": {"k": 0}}, 400, "k"),
        ({"json": {"k": "x"}}, 400, "k"),
        ({"json": {"max_dist": -1, "id": "SKU0001"}}, 400, "max_dist"),
        ({"json": {"id": "NOPE"}}, 400, "NOPE"),  # Solr refuses an unknown id
        ({"json": {"vector": [1.0, 2.0]}}, 400, "1024"),
        ({"json": {"vector": ["a"]}}, 400, "vector"),
        ({"json": {"fq": ["title:("]}}, 400, "title"),
        ({"json": {"fq": ["{!join from=id to=id}*:*"]}}, 400, "local parameters"),
        ({"json": {"fq": ["_query_:x"]}}, 400, "nested"),
        ({"json": {"facets": ["{!ex=x}color"]}}, 400, "facets: expected values matching"),
        ({"json": {"url": "http://127.0.0.1:8983/solr"}}, 400, "inside the network"),
        ({"json": {"url": "file:///etc/passwd"}}, 400, "only http"),
        ({"json": {"url": "http://169.254.169.254/latest"}}, 400, "inside the network"),
        ({"json": {"image_base64": "not base64!"}}, 400, "base64"),
        ({"json": ["a list"]}, 400, "JSON object"),
        ({"data": "x", "headers": {"Content-Type": "text/plain"}}, 400, "text/plain"),
        ({"files": {"image": ("x.jpg", b"\xff\xd8\xff garbage", "image/jpeg")}}, 400, "not a recognised image"),
        ({"files": {"image": ("x.jpg", b"", "image/jpeg")}}, 400, "empty"),
        ({"files": {"image": ("big.jpg", b"\0" * (3 * 1024 * 1024), "image/jpeg")}}, 413, "limit"),
    ],
)
def test_bad_search_input_gets_a_4xx_with_a_message(service_url, kwargs, status, message):
    response = post(service_url, "/search", **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_products_are_indexed_in_real_time_through_the_pipeline(service_url, demo_index):
    image = base64.b64encode(jpeg(query_image("bag", "green", "dotted", seed=99))).decode()
    response = post(
        service_url,
        "/products",
        json={
            "products": [
                {"id": "NEW1", "image_base64": image, "title": "Green dotted canvas tote", "category": "bag"},
                {"id": "NEW2", "image_base64": base64.b64encode(b"not an image").decode()},
                {"id": "NEW3", "image_url": "http://10.0.0.8/x.jpg"},
            ]
        },
    )
    body = response.json()
    assert body["indexed"] == ["NEW1"] and set(body["failed"]) == {"NEW2", "NEW3"}
    assert "inside the network" in body["failed"]["NEW3"]
    doc = demo_index.get(["NEW1"])["NEW1"]
    assert doc["pca_version"] == state.load_model(demo_index).version and doc["image_vector"]
    found = post(service_url, "/search", json={"image_base64": image, "k": 1}).json()["results"]
    assert found[0]["id"] == "NEW1" and found[0]["distance"] < 1e-3
    demo_index.request("update", {"commit": "true"}, body={"delete": {"id": "NEW1"}})
    for bad in ({"products": []}, {"products": [{"id": "X"}]}, {"products": "nope"}):
        assert post(service_url, "/products", json=bad).status_code == 400


def test_tag_review_then_apply_over_http(service_url, demo_index):
    preview = post(
        service_url,
        "/tag/preview",
        json={"attribute": "pattern_group", "value": "loud", "example_ids": ["SKU0002", "SKU0005"], "k": 3},
    )
    body = preview.json()
    assert preview.status_code == 200 and body["field"] == "tag_pattern_group"
    ids = [c["id"] for c in body["candidates"]]
    assert ids[:2] == ["SKU0002", "SKU0005"] and len(ids) == 5
    assert body["ranker"] == {"learned": False, "positives": 2, "rejected": 0}  # two examples: the centroid
    review = {"attribute": "pattern_group", "value": "loud", "example_ids": ids[:2], "k": 3}
    reviewed = post(service_url, "/tag/preview", json={**review, "accepted_ids": [ids[2]], "rejected_ids": [ids[3]]})
    again = [c["id"] for c in reviewed.json()["candidates"]]
    assert reviewed.json()["ranker"] == {"learned": True, "positives": 3, "rejected": 1}
    assert again[:2] == ids[:2] and len(again) == 5 and not {ids[2], ids[3]} & set(again[2:])
    unknown = post(service_url, "/tag/preview", json={**review, "rejected_ids": ["NOPE"]})
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["error"]
    applied = post(service_url, "/tag/apply", json={"attribute": "pattern_group", "value": "loud", "ids": ids})
    assert applied.json() == {"field": "tag_pattern_group", "tagged": 5}
    assert {d["id"] for d in demo_index.stream("id", fq=["tag_pattern_group:loud"])} == set(ids)
    for bad in (
        {"attribute": "Bad Name", "value": "x", "ids": ids},
        {"attribute": "a", "ids": ids},
        {"attribute": "a", "value": "x", "ids": []},
    ):
        assert post(service_url, "/tag/apply", json=bad).status_code == 400
    assert post(service_url, "/tag/apply", json={"attribute": "a", "value": "x", "ids": ["NOPE"]}).status_code == 404


def test_clusters_navigation_and_recommendations_over_http(service_url, demo_index):
    before = requests.get(f"{service_url}/clusters", timeout=30)
    assert before.status_code == 200 and before.json()["clusters"] == []  # not clustered yet
    clusters = post(service_url, "/clusters", json={"k": 4}).json()["clusters"]
    assert sum(c["size"] for c in clusters) == 60 and all(c["representative"]["id"] for c in clusters)
    assert requests.get(f"{service_url}/clusters", timeout=30).json()["clusters"] == clusters
    named = post(service_url, f"/clusters/{clusters[0]['id']}/attribute", json={"attribute": "look", "value": "a"})
    assert named.json()["tagged"] == clusters[0]["size"]
    assert post(service_url, "/clusters/999/attribute", json={"attribute": "look", "value": "a"}).status_code == 404
    assert post(service_url, "/clusters", json={"k": 1}).status_code == 400

    biggest = max(clusters, key=lambda c: c["size"])  # paged through, 4 at a time
    members, totals = [], set()
    for start in range(0, biggest["size"] + 4, 4):
        page = requests.get(f"{service_url}/clusters/{biggest['id']}/members", params={"start": start, "k": 4}).json()
        members += [r["id"] for r in page["results"]]
        totals.add(page["total"])
    assert totals == {biggest["size"]} and len(members) == len(set(members)) == biggest["size"]
    assert members[0] == biggest["representative"]["id"]  # nearest the centroid first
    distances = [
        r["distance"] for r in requests.get(f"{service_url}/clusters/{biggest['id']}/members").json()["results"]
    ]
    assert distances == sorted(distances)
    docs = {d["id"]: d for d in demo_index.stream("id,category,cluster_id")}
    held = sorted(Counter(docs[i]["category"] for i in members).items(), key=lambda pair: (-pair[1], pair[0]))
    assert biggest["composition"]["category"] == [list(pair) for pair in held[:3]]  # Solr breaks ties by value
    two = [held[0][0], held[-1][0]]  # within facet filters: the cluster's members of two categories
    url = f"{service_url}/clusters/{biggest['id']}/members"
    within = requests.get(url, params={"k": 100, "filters": [f"category={c}" for c in two]}, timeout=30).json()
    expected = {i for i in members if docs[i]["category"] in two}
    assert {r["id"] for r in within["results"]} == expected and within["total"] == len(expected)
    assert dict(map(tuple, within["facets"]["category"])) == dict(held), "the other categories keep their counts"
    assert requests.get(url, params={"filters": "category"}, timeout=30).status_code == 400
    assert requests.get(f"{service_url}/clusters/999/members", timeout=30).status_code == 404

    start = post(service_url, "/navigate/start", json={"size": 4}).json()
    assert len(start["gallery"]) == 4  # one representative per cluster
    step = post(
        service_url, "/navigate/step", json={"session": start["session"], "choose": start["gallery"][0]["id"]}
    ).json()
    shown = [g["id"] for g in start["gallery"] + step["gallery"]]
    assert len(shown) == len(set(shown))
    assert post(service_url, "/navigate/step", json={"session": "nope", "choose": "SKU0001"}).status_code == 404
    from_result = post(service_url, "/navigate/start", json={"choose": "SKU0002", "size": 5}).json()
    assert from_result["current"] == "SKU0002" and len(from_result["gallery"]) == 5
    assert "SKU0002" not in [g["id"] for g in from_result["gallery"]]
    assert post(service_url, "/navigate/step", json={"session": start["session"]}).status_code == 400

    recommended = post(service_url, "/recommend", json={"like": ["SKU0002"], "unlike": ["SKU0003"], "k": 5}).json()
    assert len(recommended["results"]) == 5 and {"SKU0002", "SKU0003"}.isdisjoint(
        r["id"] for r in recommended["results"]
    )
    assert post(service_url, "/recommend", json={"like": [], "k": 5}).status_code == 400
    assert post(service_url, "/recommend", json={"like": ["SKU0002"], "mode": "filter"}).status_code == 400
    assert post(service_url, "/recommend", json={"like": ["NOPE"]}).status_code == 400


def test_facets_come_in_count_order_and_selections_of_one_field_combine(service_url, demo_index):
    def search(**body) -> dict:
        response = requests.post(f"{service_url}/search", json={"k": 100, "facets": ["category", "color"], **body})
        assert response.status_code == 200, response.text
        return response.json()

    every = search(text="cotton")  # fewer of some categories than others
    counts = [count for _, count in every["facets"]["category"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == every["total"]
    docs = {d["id"]: d for d in demo_index.stream("id,category,color")}

    both = search(filters={"color": ["red", "blue"]})
    expected = {i for i, d in docs.items() if d["color"] in ("red", "blue")}
    assert {r["id"] for r in both["results"]} == expected and both["total"] == len(expected)
    # The selected field keeps the counts of its other values; the others count the selection.
    assert dict(both["facets"]["color"]) == Counter(d["color"] for d in docs.values())
    assert sum(count for _, count in both["facets"]["category"]) == len(expected)

    paged = search(filters={"color": ["red", "blue"]}, start=5, k=5)
    assert [r["id"] for r in paged["results"]] == [r["id"] for r in both["results"]][5:10] and paged["total"] == both[
        "total"
    ]
    narrowed = search(filters={"color": ["red", "blue"], "category": ["shoe"]})
    assert {r["id"] for r in narrowed["results"]} == {i for i in expected if docs[i]["category"] == "shoe"}
    for bad, problem in (
        ({"nope field": ["x"]}, "filters"),
        ({"image_vector": ["x"]}, "filters"),
        ({"color": 3}, "filters"),
    ):
        answer = requests.post(f"{service_url}/search", json={"filters": bad}, timeout=30)
        assert answer.status_code == 400 and problem in answer.json()["error"], answer.json()
