"""What each ``lookalike`` command does, given its parsed arguments and the settings. TensorFlow
is imported only by the commands that embed images, so the others start fast."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from embedder import errors, options
from embedder.config import Settings
from embedder.display import format_clusters, format_counts, format_hits


def attribute(text: str):
    from embedder.tagging import Attribute

    try:
        return Attribute.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def solr(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.localsolr import CloudLayout, LocalSolr

    cloud = CloudLayout(args.nodes, args.shards, args.replicas) if args.cloud else None
    local = LocalSolr(settings.home, settings.solr_port, settings.collection, settings.solr_java_opts, cloud)
    if args.action == "start":
        print(f"Solr is up: {local.start()} (log: {local.log_file})")
        if cloud:
            print(
                f"SolrCloud: {cloud.nodes} nodes, {cloud.shards} shards x {cloud.replicas} replicas; "
                f"ZooKeeper at {local.zk_host} (also accepted by --solr)"
            )
    elif args.action == "stop":
        print("Solr stopped" if local.stop() else "Solr was not running")
    else:
        status = local.status()
        if "collection" in status:
            from embedder import state
            from embedder.solr import SolrIndex

            versions = state.vector_versions(SolrIndex(settings.collection_url))
            status |= {"pca_versions": versions, "status": "ok" if len(versions) <= 1 else "degraded"}
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    return 0


def index(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import upgrade
    from embedder.pipeline import IndexOptions, new_report
    from embedder.runtime import EmbeddingRuntime
    from embedder.solr import SolrIndex

    job = IndexOptions(
        batch_size=settings.batch_size,
        fit_sample=args.fit_sample,
        refit=args.refit,
        pca_path=args.pca,
        shard=args.shard,
        report_path=args.report or new_report(settings.home / "reports"),
        progress=not args.no_progress,
        renames=tuple(args.renames),
        delete_missing=args.delete_missing,
        yes=args.yes,
        vectors=args.vectors,
        cache_dir=None if args.no_cache else settings.home / "embeddings",
    )
    index = SolrIndex(settings.collection_url)
    runtime = EmbeddingRuntime(index, settings.weights)
    runtime.extractor_name()  # bad weights fail before any work; TensorFlow loads only to embed
    print(upgrade.index_catalog(index, runtime, job, args.catalog, args.configset).format())
    return 0


def search(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient

    client = LookalikeClient.connect(settings)
    page = client.run(client.query(image=args.image, **_given(args, options.SEARCH_REQUEST)))
    if args.json:
        print(json.dumps([hit.__dict__ for hit in page.hits], indent=2, default=str))
    else:
        print(format_hits(page.hits))
        if page.facets:
            print(f"\n{page.total} products in all\n" + format_counts(page.facets))
    return 0


def _given(args: argparse.Namespace, names: Sequence[str]) -> dict:
    """The search options given on the command line (the others keep their declared defaults)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) not in (None, False)}


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import waitress

    from embedder.service import ServiceConfig, create_app

    config = ServiceConfig(
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        allow_private_urls=args.allow_private_urls,
        image_roots=tuple(args.image_root),
        api_token=settings.api_token,
        read_only=args.read_only,
        labels=dict(args.label),
    )
    app = create_app(settings, config)
    try:  # load the model now, so bad weights fail in one line at start-up
        app.extensions["lookalike"].runtime.extractor()
    except errors.SolrUnavailable:  # the collection says which weights; loaded on first use
        logging.getLogger(__name__).warning("Solr is not reachable yet: the model loads on first use")
    except errors.NotInstalled as missing:  # searches by id, vector or keywords still work
        logging.getLogger(__name__).warning("%s; image searches answer 503", missing)
    logging.getLogger(__name__).info(
        "serving on http://%s:%d (Solr %s)", args.host, args.http_port, settings.collection_url
    )
    waitress.serve(app, host=args.host, port=args.http_port, threads=args.threads)
    return 0


def tag(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import tagging
    from embedder.client import LookalikeClient

    client = LookalikeClient.connect(settings)
    request = _given(args, options.TAG_PREVIEW_REQUEST)
    preview = tagging.preview(client, args.example, args.example_image, **request)
    if args.json:
        print(json.dumps([hit.__dict__ for hit in preview.hits], indent=2, default=str))
        return 0
    print(format_hits(preview.hits))
    print(_ranked_by(preview.ranker))
    if not preview.candidates:
        return 0
    if not args.yes and not sys.stdin.isatty():
        print("nothing written (pass --yes to write without asking, or review on a terminal)")
        return 0
    accepted = [h.id for h in preview.candidates] if args.yes else _review(client, args, request, preview)
    kept = [*args.example, *accepted]
    question = f"Write {args.attribute.name}={args.attribute.value} into these {len(kept)} products? [y/N] "
    if not kept or not (args.yes or input(question).strip().lower() in ("y", "yes")):
        print("nothing written")
        return 0
    tagged = tagging.apply(client.index, args.attribute, kept)
    print(f"tagged {tagged} products with {args.attribute.field}={args.attribute.value}")
    return 0


def _review(client, args: argparse.Namespace, request: dict, preview) -> list[str]:
    """Asks about the best unreviewed candidate on the terminal, and re-ranks after each answer
    with the answers so far: Enter or y accepts it, n rejects it, a accepts it and the rest of
    the current ranking. Returns the accepted ids (the examples are kept without asking)."""
    from embedder import tagging

    accepted: list[str] = []
    rejected: list[str] = []
    total = len(preview.candidates)
    while preview.candidates:
        hit = preview.candidates[0]
        number = len(accepted) + len(rejected) + 1
        answer = input(f"[{number}/{total}] {hit.id} {hit.fields.get('title', '')}: keep? [Y/n/a] ").strip().lower()
        if answer == "a":
            return accepted + [h.id for h in preview.candidates]
        (rejected if answer in ("n", "no") else accepted).append(hit.id)
        left = total - len(accepted) - len(rejected)
        if not left:
            break
        preview = tagging.preview(
            client, args.example, args.example_image, accepted=accepted, rejected=rejected, **{**request, "k": left}
        )
    return accepted


def _ranked_by(ranker) -> str:
    from embedder import learning

    if ranker.learned:
        return (
            f"ranked by a model learned from {ranker.positives} positive and {ranker.negatives} rejected "
            "products and a sample of the collection"
        )
    return (
        "ranked by distance to the examples' centroid (a model is learned from "
        f"{learning.MIN_POSITIVES_TO_LEARN} examples, or a rejection)"
    )


def untag(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import tagging
    from embedder.solr import SolrIndex

    removed = tagging.remove(SolrIndex(settings.collection_url), args.attribute, None if args.all else args.ids)
    print(f"removed {args.attribute.field}={args.attribute.value} from {removed} products")
    return 0


def delete(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient

    print(f"deleted {LookalikeClient.connect(settings).delete(args.ids)} products")
    return 0


def cluster(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import clustering
    from embedder.solr import SolrIndex
    from embedder.tagging import Attribute

    index = SolrIndex(settings.collection_url)
    if args.name:
        cluster_id, text = args.name
        if not cluster_id.isdigit():
            raise errors.BadInput(f"cluster --name: CLUSTER is a cluster number, got {cluster_id!r}")
        tagged = clustering.assign_attribute(index, int(cluster_id), Attribute.parse(text))
        print(f"tagged the {tagged} products of cluster {cluster_id} with {text}")
        return 0
    result = clustering.cluster_catalog(index, k=args.k)
    docs = index.get([c.representative for c in result.clusters], fl="id,title")
    titles = {i: str(d.get("title", "")) for i, d in docs.items()}
    print(format_clusters(result.clusters, titles, clustering.composition(index)))
    return 0


def recommend(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient

    values = _given(args, options.RECOMMEND_REQUEST)
    if not values.get("like"):
        raise errors.BadInput("recommend: give 1 or more --like product ids")
    page = LookalikeClient.connect(settings).recommend(**values)
    print(format_hits(page.hits))
    return 0


def cells(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import cells, contract
    from embedder.solr import SolrIndex

    index = SolrIndex(settings.collection_url)
    sample = cells.sample_index(index, args.sample)
    # sized by the catalog, not by the sample: a 1M catalog gets about 1000 cells from 100k vectors
    count = args.count or cells.cell_count(index.count(fq=[f"{contract.VECTOR_FIELD}:*"]))
    centroids = cells.train(sample, count)
    cells.write(centroids, args.out)
    print(
        f"wrote {len(centroids)} cells of {centroids.shape[1]} components to {args.out}; declare it on "
        f'the vector field type (cells="{args.out.name}"), reload the collection and re-index'
    )
    return 0


def navigate(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient
    from embedder.navigation import Navigator

    navigator = Navigator(LookalikeClient.connect(settings))
    session, gallery = navigator.start(size=args.k)
    print("start:\n" + format_hits(gallery))
    for choice in args.steps:
        session, gallery = navigator.step(session.id, choice, reject=args.reject or (), k=args.k)
        print(f"\nafter choosing {choice}:\n" + format_hits(gallery))
    return 0


def demo(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.demo import run_demo

    return run_demo(settings, explicit_solr=args.solr is not None)
