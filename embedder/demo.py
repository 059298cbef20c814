"""``lookalike demo``: a local Solr, a generated catalog indexed, a keyword + image + filter query."""

from __future__ import annotations

import logging

from embedder.config import Settings

log = logging.getLogger(__name__)

QUERY = {"category": "tshirt", "color": "red", "pattern": "striped"}
KEYWORDS = "cotton"
FILTERS = ["category:tshirt"]


def run_demo(settings: Settings, explicit_solr: bool = False) -> int:
    from dataclasses import replace

    from embedder import upgrade
    from embedder.client import LookalikeClient
    from embedder.display import format_hits
    from embedder.localsolr import LocalSolr
    from embedder.pipeline import Indexer, IndexOptions
    from embedder.runtime import EmbeddingRuntime
    from embedder.samples import generate_catalog, query_image
    from embedder.solr import SolrIndex
    from embedder.state import ModelMismatch

    if not explicit_solr:
        local = LocalSolr(settings.home, settings.solr_port, settings.collection, settings.solr_java_opts)
        print(f"Starting a local Solr (first run builds the plugin) ... {local.start()}")
    extractor = _extractor(settings.weights or "imagenet")
    catalog = generate_catalog(settings.home / "demo-catalog")
    print(f"Generated {catalog} ({len(catalog.read_text().splitlines()) - 1} products)")

    index = SolrIndex(settings.collection_url)
    runtime = EmbeddingRuntime(index, extractor=extractor)
    options = IndexOptions(batch_size=settings.batch_size, report_path=settings.home / "demo-index-report.jsonl")
    try:
        summary = Indexer(index, runtime, options).run(catalog)
    except ModelMismatch as mismatch:  # the collection was indexed with other weights before
        print(f"{mismatch}: re-indexing the demo catalog")
        summary = upgrade.index_catalog(index, runtime, replace(options, refit=True), catalog)
    print(summary.format())

    query_path = settings.home / "demo-query.jpg"
    query_image(QUERY["category"], QUERY["color"], QUERY["pattern"]).save(query_path)
    print(
        f"\nQuery: image {query_path} (a new photo of a {QUERY['color']} {QUERY['pattern']} "
        f"{QUERY['category']}) + keywords {KEYWORDS!r} + filter {FILTERS}\n"
        f"  (the same from the shell: lookalike search --image {query_path} --text {KEYWORDS} "
        f"--fq {FILTERS[0]} -k 5)\n"
    )
    client = LookalikeClient(index, runtime)
    print(format_hits(client.search(image=query_path, text=KEYWORDS, fq=FILTERS, k=5)))
    return 0


def _extractor(weights: str):
    from embedder.model import FeatureExtractor, WeightsUnavailable

    try:
        return FeatureExtractor.load(weights)
    except WeightsUnavailable as error:
        if weights != "imagenet":
            raise
        print(f"{error} -- falling back to seeded random weights (results show the plumbing, not visual quality)")
        return FeatureExtractor.load("none")
