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
from embedder.localsolr import CloudLayout, LocalSolr
from embedder.pipeline import IndexOptions
from embedder.samples import generate_catalog
from embedder.solr import SolrIndex
from tests.helpers import all_vectors, free_port_block, indexer


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    solr = LocalSolr(tmp_path_factory.mktemp("cloud-home"), port=free_port_block(3), cloud=CloudLayout(3, 2, 2))
    solr.start(timeout=300)
    yield solr
    solr.stop()


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
    "maxDist": dict(k=60, max_dist=8.0),
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
    preview_single = [h.id for h in tagging.preview(single_client, examples, k=6)]
    preview_cloud = [h.id for h in tagging.preview(cloud_client, examples, k=6)]
    assert preview_cloud == preview_single
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
