"""A local SolrCloud (3 nodes, 2 shards x 2 replicas, embedded ZooKeeper) answers every query
form exactly like a single node: same ids, same order, same scores."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest

from embedder import contract, state, tagging
from embedder.client import LookalikeClient, Query
from embedder.config import load_settings
from embedder.errors import BadInput
from embedder.localsolr import CloudLayout
from embedder.pipeline import IndexOptions
from embedder.samples import generate_catalog
from embedder.solr import SolrIndex
from tests.helpers import all_vectors, indexer, local_cloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with local_cloud(tmp_path_factory.mktemp("cloud-home"), CloudLayout(3, 2, 2)) as solr:
        yield solr


@pytest.fixture(scope="module")
def indexes(cloud, demo_index, extractor, tmp_path_factory):
    """The demo catalog in the cloud, indexed through ZooKeeper, next to the single node's."""
    settings = load_settings(environ={}, solr_url=cloud.zk_host)  # --solr accepts ZooKeeper
    cloud_index = SolrIndex(settings.collection_url)
    directory = tmp_path_factory.mktemp("cloud-catalog")
    options = IndexOptions(batch_size=32, progress=False, report_path=directory / "report.jsonl")
    catalog = generate_catalog(directory / "catalog")  # the same images as the demo index
    summary = indexer(cloud_index, extractor, options).run(catalog)
    assert summary.counts["added"] == 60
    return demo_index, cloud_index


def both(indexes, extractor, query: Query) -> tuple[list, list]:
    single, cloud = (LookalikeClient(index, extractor=extractor).run(query).hits for index in indexes)
    return single, cloud


def test_documents_are_spread_over_both_shards(indexes):
    _, cloud_index = indexes
    info = cloud_index.request("select", {"q": "*:*", "rows": 0, "shards.info": "true"})["shards.info"]
    counts = [shard["numFound"] for shard in info.values()]
    assert len(counts) == 2 and sum(counts) == 60 and min(counts) > 0


def test_vectors_and_the_pca_model_are_identical(indexes):
    single, cloud = indexes
    assert state.load_model(single).version == state.load_model(cloud).version
    vectors_single, vectors_cloud = all_vectors(single), all_vectors(cloud)
    assert vectors_single.keys() == vectors_cloud.keys()
    assert all(np.array_equal(vectors_single[i], vectors_cloud[i]) for i in vectors_single)


QUERIES = {
    "vector": dict(k=10),
    "vector + fq": dict(k=10, fq=["category:dress"]),
    "vector + keywords": dict(k=10, text="cotton"),
    "hybrid": dict(k=10, text="striped", hybrid=True),
    "maxDist": dict(k=60, max_dist=1.5),  # unit vectors: about 13 of the 60 are within it
    "like/unlike": dict(k=10),
    "facets": dict(k=5, facets=["color"]),
}


@pytest.mark.parametrize("name", QUERIES)
def test_every_query_form_gives_the_single_nodes_answer(indexes, extractor, name):
    options = dict(QUERIES[name])
    vectors = all_vectors(indexes[0])
    if name == "like/unlike":
        query = Query(like=["SKU0002", "SKU0031"], unlike=["SKU0003"], **options)
    else:
        query = Query(vector=contract.encode_vector(vectors["SKU0020"] + 0.01), **options)
    single, cloud = both(indexes, extractor, query)
    assert single, name
    assert [h.id for h in cloud] == [h.id for h in single]
    assert [h.score for h in cloud] == [h.score for h in single]
    assert [h.distance for h in cloud] == [h.distance for h in single]


def test_search_by_id_and_image_and_tag_preview_work_on_shards(indexes, extractor):
    single_client, cloud_client = (LookalikeClient(index, extractor=extractor) for index in indexes)
    for product_id in ("SKU0001", "SKU0044"):  # wherever they live, every shard finds the vector
        assert [h.id for h in cloud_client.search(id=product_id, k=8)] == [
            h.id for h in single_client.search(id=product_id, k=8)
        ]
    image = indexes[0].catalog_dir / "images" / "SKU0009.jpg"
    assert [h.id for h in cloud_client.search(image=image, k=5)] == [
        h.id for h in single_client.search(image=image, k=5)
    ]
    examples = ["SKU0002", "SKU0017", "SKU0047"]
    single, cloud = tagging.preview(single_client, examples, k=6), tagging.preview(cloud_client, examples, k=6)
    assert cloud.ranker.learned and cloud.ranker.bias == single.ranker.bias, "the same background sample"
    np.testing.assert_array_equal(cloud.ranker.weights, single.ranker.weights)
    preview_cloud = [h.id for h in cloud.hits]
    assert preview_cloud == [h.id for h in single.hits]
    tagging.apply(indexes[1], tagging.Attribute("style", "cloudy"), preview_cloud)
    tagged = {d["id"] for d in indexes[1].stream("id", fq=["tag_style:cloudy"])}
    assert tagged == set(preview_cloud)


def test_the_sidecar_serves_a_sharded_collection(cloud, indexes, extractor, tmp_path):
    from embedder.service import ServiceConfig, create_app

    settings = load_settings(environ={}, solr_url=cloud.zk_host, home=tmp_path, weights="none")
    app = create_app(settings, ServiceConfig(image_roots=(indexes[0].catalog_dir,)), extractor=extractor)
    client = app.test_client()
    assert client.get("/health").get_json()["documents"] == 60
    image = (indexes[0].catalog_dir / "images" / "SKU0012.jpg").read_bytes()
    found = client.post("/search", data={"image": (io.BytesIO(image), "q.jpg"), "k": "3", "fq": "category:tshirt"})
    ids = [r["id"] for r in found.get_json()["results"]]
    single = LookalikeClient(indexes[0], extractor=extractor).search(image=image, k=3, fq=["category:tshirt"])
    assert ids == [h.id for h in single] and ids[0] == "SKU0012"
    steps = client.post("/navigate/start", json={"choose": "SKU0012", "size": 4}).get_json()
    assert len(steps["gallery"]) == 4 and "SKU0012" not in [g["id"] for g in steps["gallery"]]


def test_a_refit_behind_an_alias_builds_a_new_collection_and_moves_the_alias(cloud, indexes, extractor, tmp_path):
    from embedder import upgrade
    from embedder.errors import BadInput
    from embedder.runtime import EmbeddingRuntime

    products = indexes[1]
    shape = {"numShards": 2, "replicationFactor": 1, "collection.configName": contract.CONFIGSET_NAME}
    products.admin("collections", action="CREATE", name="shop_v1", **shape)
    products.admin("collections", action="CREATEALIAS", name="shop", collections="shop_v1")
    shop = SolrIndex(f"{cloud.url}/shop")
    catalog = generate_catalog(tmp_path / "catalog")
    job = IndexOptions(progress=False, report_path=tmp_path / "a.jsonl", cache_dir=tmp_path / "cache")
    indexer(shop, extractor, job).run(catalog)
    tagging.apply(shop, tagging.Attribute("style", "aliased"), ["SKU0001", "SKU0002"])
    old = state.model_version(shop)

    refit = replace(job, refit=True, fit_sample=40, report_path=tmp_path / "b.jsonl")
    summary = upgrade.rebuild(shop, EmbeddingRuntime(shop, extractor=extractor), refit, catalog, "unused")
    new = products.admin("collections", action="LISTALIASES")["aliases"]["shop"]
    assert new != "shop_v1" and "shop_v1" not in products.admin("collections", action="LIST")["collections"]
    assert summary.pca_version != old and state.vector_versions(shop) == {summary.pca_version: 60}
    assert {d["id"] for d in shop.stream("id", fq=["tag_style:aliased"])} == {"SKU0001", "SKU0002"}

    with pytest.raises(BadInput, match="a SolrCloud collection, not an alias"):  # products has no alias
        upgrade.rebuild(products, EmbeddingRuntime(products, extractor=extractor), refit, catalog, "unused")
    products.admin("collections", action="DELETEALIAS", name="shop")
    products.admin("collections", action="DELETE", name=new)


def sqdist_float32(vector: np.ndarray, query: np.ndarray) -> np.float32:
    """The plugin's distance, bit for bit: component i into lane i % 8, then the lanes in order."""
    squares = (vector.astype(np.float32) - query.astype(np.float32)) ** 2
    padded = np.concatenate([squares, np.zeros(-len(squares) % 8, np.float32)]).reshape(-1, 8)
    lanes = np.zeros(8, np.float32)
    for row in padded:
        lanes += row
    total = np.float32(0)
    for lane in lanes:
        total = np.float32(total + lane)
    return total


def visual_page(index: SolrIndex, query: np.ndarray, start: int, rows: int) -> list[tuple[str, np.float32]]:
    params = {"q": "{!visual f=image_vector v=$qv}", "qv": contract.encode_vector(query), "start": start}
    params.update(rows=rows, fl="id,d:sqdist(image_vector,$qv)", minExactCount=start + rows)
    return [(d["id"], np.float32(d["d"])) for d in index.request("select", params)["response"]["docs"]]


def test_ties_by_id_and_near_duplicates_by_distance_like_one_node(indexes):
    """13 exact duplicates of the query in unique-key order on any page, and a pair whose distances
    differ in the last bits (1 / (1 + d) ties them) in distance order, on one node and two shards."""
    rng = np.random.default_rng(11)
    duplicated, near_query = (rng.normal(size=contract.DEFAULT_DIMENSION).astype(np.float32) for _ in range(2))
    near_query[0] = 0  # the pair's component 0 is then its exact difference to the query
    added = {f"TIE{i:02d}": duplicated for i in reversed(range(13))}  # against the doc id order
    for product_id, offset in (("TIENEAR1", 2), ("TIENEAR2", 0)):  # NEAR1 is farther, by 2 ulps
        vector = near_query.copy()
        vector[0] = np.float32(1e-3)
        for _ in range(offset):
            vector[0] = np.nextafter(vector[0], np.float32(1))
        added[product_id] = vector
    docs = [{"id": i, contract.VECTOR_FIELD: contract.encode_vector(v)} for i, v in added.items()]
    for index in indexes:
        index.add(docs)
        index.commit()
    try:
        vectors = {**all_vectors(indexes[0]), **added}
        for query, pages in ((duplicated, ((0, 5), (5, 12))), (near_query, ((0, 2), (1, 6)))):
            distances = {i: sqdist_float32(v, query) for i, v in vectors.items()}
            reference = sorted(distances, key=lambda i: (distances[i], i))
            for start, rows in pages:
                expected = [(i, distances[i]) for i in reference[start : start + rows]]
                for index in indexes:
                    assert visual_page(index, query, start, rows) == expected, (start, rows)
        assert [i for i, _ in visual_page(indexes[1], near_query, 0, 2)] == ["TIENEAR2", "TIENEAR1"]
    finally:
        for index in indexes:
            index.delete(list(added))
            index.commit()


def test_vectors_that_could_overflow_a_distance_are_refused_everywhere(indexes):
    """A component of 1e19 squares to 1e38: two such vectors' distance would overflow float32."""
    vector = np.zeros(contract.DEFAULT_DIMENSION, np.float32)
    vector[7] = 1e19
    for index in indexes:
        with pytest.raises(BadInput, match="image_vector: component 7 is 1.0E19"):
            index.add([{"id": "HUGE", contract.VECTOR_FIELD: contract.encode_vector(vector)}])
        with pytest.raises(BadInput, match="refused the request: v: component 7 is 1.0E19"):
            index.search(q="{!visual f=image_vector v=$qv}", qv=contract.encode_vector(vector))
        assert index.count(fq=["id:HUGE"]) == 0


def test_search_by_id_ranks_against_the_committed_vector_on_one_node_and_two_shards(indexes):
    """While the product has an uncommitted update, then an uncommitted delete, ``id=`` gives the
    same list as ``v=`` its committed vector: the same point on every shard."""
    rng = np.random.default_rng(5)
    committed, uncommitted = (rng.normal(size=contract.DEFAULT_DIMENSION).astype(np.float32) for _ in range(2))
    for index in indexes:
        index.add([{"id": "ZZMOVE", contract.VECTOR_FIELD: contract.encode_vector(committed)}])
        index.commit()
    try:
        for change in (
            {"id": "ZZMOVE", contract.VECTOR_FIELD: contract.encode_vector(uncommitted)},
            {"delete": "ZZMOVE"},
        ):
            body = change if "delete" in change else [change]
            for index in indexes:
                index.request("update", {}, body=body)  # no commit, no commitWithin
            for index in indexes:
                for start in (0, 5):
                    page = {"fl": "id,score", "rows": 12, "start": start}
                    by_id = index.request("select", {"q": "{!visual f=image_vector id=ZZMOVE}", **page})
                    by_vector = index.request(
                        "select",
                        {"q": "{!visual f=image_vector v=$qv}", "qv": contract.encode_vector(committed), **page},
                    )
                    assert by_id["response"]["docs"] == by_vector["response"]["docs"], (change, start)
                    assert by_id["response"]["numFound"] == by_vector["response"]["numFound"]
            single, cloud = (
                index.request("select", {"q": "{!visual f=image_vector id=ZZMOVE}", "fl": "id,score"})
                for index in indexes
            )
            assert single["response"]["docs"] == cloud["response"]["docs"]
    finally:
        for index in indexes:
            index.delete(["ZZMOVE"])
            index.commit()
