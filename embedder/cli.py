"""The ``lookalike`` command line. TensorFlow is imported only by commands that embed images,
so ``lookalike --help`` and ``lookalike solr status`` start fast."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from embedder import errors, options
from embedder.catalog import Shard
from embedder.config import ENVIRONMENT, Settings, load_settings
from embedder.display import format_hits


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; its exit status says how it ended (``errors.EXIT_CODES``)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return program(args)
    except KeyboardInterrupt:
        print("lookalike: interrupted; what was written is kept, re-run to resume", file=sys.stderr)
        return errors.INTERRUPTED_EXIT_CODE
    except Exception as error:  # one clear line for the user; the traceback with --verbose
        if args.verbose:
            traceback.print_exc()
        expected = isinstance(error, errors.LookalikeError)
        lines = str(error).strip().splitlines() or [type(error).__name__]
        hint = "" if expected else " (unexpected: run with --verbose for the traceback)"
        print(f"lookalike: error: {lines[0]}{hint}", file=sys.stderr)
        return error.exit_code if expected else errors.BUG_EXIT_CODE


def program(args: argparse.Namespace) -> int:
    settings = load_settings(
        solr_url=args.solr,
        collection=args.collection,
        home=args.home,
        weights=getattr(args, "weights", None),
        solr_port=getattr(args, "port", None),
        batch_size=getattr(args, "batch_size", None),
    )
    return args.run(args, settings)


def _parser() -> argparse.ArgumentParser:
    env = "; ".join(f"{v} ({k})" for k, v in ENVIRONMENT.items())
    codes = "; ".join(f"{code} {meaning}" for code, meaning in errors.EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="lookalike",
        description="Visual search inside Apache Solr.",
        epilog=f"Environment variables: {env}. Flags override them. Exit statuses: {codes}.",
    )
    parser.add_argument("--solr", help=f"Solr base URL (default {Settings.solr_url})")
    parser.add_argument("--collection", help=f"collection (default {Settings.collection})")
    parser.add_argument("--home", type=Path, help="working directory for local state (default ./.lookalike)")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    solr = commands.add_parser("solr", help="a local Solr server: start, stop, status")
    solr.add_argument("action", choices=("start", "stop", "status"))
    solr.add_argument("--port", type=int, help=f"HTTP port (default {Settings.solr_port})")
    solr.add_argument("--cloud", action="store_true", help="a local SolrCloud with embedded ZooKeeper")
    solr.add_argument("--nodes", type=int, default=3, help="SolrCloud nodes (default 3)")
    solr.add_argument("--shards", type=int, default=2, help="shards of the collection (default 2)")
    solr.add_argument("--replicas", type=int, default=2, help="replicas of each shard (default 2)")
    solr.set_defaults(run=_solr)

    index = commands.add_parser("index", help="index a catalog (CSV or JSON Lines)")
    index.add_argument("catalog", type=Path)
    _weights(index)
    index.add_argument("--batch-size", type=int, help=f"images per model batch (default {Settings.batch_size})")
    index.add_argument("--fit-sample", type=int, default=10_000, help="images to fit the PCA on (default 10000)")
    index.add_argument("--refit", action="store_true", help="fit a new PCA model and re-index everything")
    index.add_argument("--pca", type=Path, help="use this saved PCA model instead of the collection's")
    index.add_argument("--shard", type=Shard.parse, default=Shard(), help="I/N: this worker's share")
    index.add_argument(
        "--report",
        type=Path,
        default=Path("lookalike-index-report.jsonl"),
        help="where failures and skips are listed (default ./lookalike-index-report.jsonl)",
    )
    index.add_argument("--no-progress", action="store_true")
    index.set_defaults(run=_index)

    search = commands.add_parser("search", help="visual search, with keywords and filters")
    search.add_argument("--image", help="query image: a path or URL")
    options.add_arguments(search, options.SEARCH_REQUEST)
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _weights(search)
    search.set_defaults(run=_search)

    serve = commands.add_parser("serve", help="the HTTP sidecar and web page (waitress)")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    serve.add_argument("--port", dest="http_port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--threads", type=int, default=4, help="worker threads (default 4)")
    serve.add_argument("--max-upload-mb", type=int, default=10, help="upload size limit (default 10)")
    serve.add_argument(
        "--allow-private-urls", action="store_true", help="let image URLs point inside the network (refused by default)"
    )
    serve.add_argument(
        "--image-root",
        action="append",
        type=Path,
        default=[],
        help="a directory whose product images may be served (repeatable; default: the home and working directories)",
    )
    _weights(serve)
    serve.set_defaults(run=_serve)

    tag = commands.add_parser("tag", help="tag the lookalikes of example products with an attribute")
    tag.add_argument("attribute", type=_attribute, help="NAME=VALUE, e.g. style=hawaiian")
    tag.add_argument("--example", action="append", default=[], help="an example product id (repeatable)")
    tag.add_argument("--example-image", action="append", default=[], help="an example image (repeatable)")
    options.add_arguments(tag, options.TAG_PREVIEW_REQUEST)
    tag.add_argument("--yes", action="store_true", help="write without asking")
    _weights(tag)
    tag.set_defaults(run=_tag)

    cluster = commands.add_parser("cluster", help="cluster the catalog; or name a cluster")
    cluster.add_argument("-k", type=int, default=8, help="clusters (default 8)")
    cluster.add_argument(
        "--name",
        nargs=2,
        metavar=("CLUSTER", "NAME=VALUE"),
        help="write an attribute into every member of a cluster instead",
    )
    cluster.set_defaults(run=_cluster)

    recommend = commands.add_parser("recommend", help="products like these, unlike those")
    options.add_arguments(recommend, options.RECOMMEND_REQUEST)
    recommend.set_defaults(run=_recommend)

    cells = commands.add_parser("cells", help="train coarse cells for the approximate mode {!visual probe=N}")
    cells.add_argument("out", type=Path, help="the cells file to write, e.g. solr-config/conf/cells.bin")
    cells.add_argument("--count", type=int, help="cells (default about sqrt(products), 64 to 1024)")
    cells.add_argument("--sample", type=int, default=100_000, help="vectors to train on (default 100000)")
    cells.set_defaults(run=_cells)

    navigate = commands.add_parser("navigate", help="a gallery of diverse products, then steps")
    navigate.add_argument("steps", nargs="*", help="product ids chosen one after another")
    navigate.add_argument("-k", type=int, default=8, help="gallery size (default 8)")
    navigate.set_defaults(run=_navigate)

    demo = commands.add_parser("demo", help="start Solr, index a generated catalog, run a query")
    _weights(demo)
    demo.add_argument("--port", type=int, help=f"local Solr port (default {Settings.solr_port})")
    demo.set_defaults(run=_demo)
    return parser


def _weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", help="imagenet | none (seeded random) | PATH to .h5/.keras (default imagenet)")


def _solr(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.localsolr import CloudLayout, LocalSolr

    cloud = CloudLayout(args.nodes, args.shards, args.replicas) if args.cloud else None
    local = LocalSolr(settings.home, settings.solr_port, settings.collection, cloud=cloud)
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
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    return 0


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.pipeline import Indexer, IndexOptions
    from embedder.runtime import EmbeddingRuntime
    from embedder.solr import SolrIndex

    job = IndexOptions(
        batch_size=settings.batch_size,
        fit_sample=args.fit_sample,
        refit=args.refit,
        pca_path=args.pca,
        shard=args.shard,
        report_path=args.report,
        progress=not args.no_progress,
    )
    index = SolrIndex(settings.collection_url)
    runtime = EmbeddingRuntime(index, settings.weights)
    runtime.extractor()  # bad weights fail before any work
    summary = Indexer(index, runtime, job).run(args.catalog)
    print(summary.format())
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient

    client = LookalikeClient.connect(settings)
    hits = client.search(image=args.image, **_given(args, options.SEARCH_REQUEST))
    if args.json:
        print(json.dumps([hit.__dict__ for hit in hits], indent=2, default=str))
    else:
        print(format_hits(hits))
    return 0


def _given(args: argparse.Namespace, names: Sequence[str]) -> dict:
    """The search options given on the command line (the others keep their declared defaults)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) not in (None, False)}


def _attribute(text: str):
    from embedder.tagging import Attribute

    try:
        return Attribute.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import waitress

    from embedder.model import FeatureExtractor
    from embedder.service import ServiceConfig, create_app

    config = ServiceConfig(
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        allow_private_urls=args.allow_private_urls,
        image_roots=tuple(args.image_root),
    )
    app = create_app(settings, config, extractor=FeatureExtractor.load(settings.weights))
    logging.getLogger(__name__).info(
        "serving on http://%s:%d (Solr %s)", args.host, args.http_port, settings.collection_url
    )
    waitress.serve(app, host=args.host, port=args.http_port, threads=args.threads)
    return 0


def _tag(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import tagging
    from embedder.client import LookalikeClient

    client = LookalikeClient.connect(settings)
    candidates = tagging.preview(client, args.example, args.example_image, **_given(args, options.TAG_PREVIEW_REQUEST))
    print(format_hits(candidates))
    if not candidates:
        return 0
    question = f"Write {args.attribute.name}={args.attribute.value} into these {len(candidates)} products? [y/N] "
    if not args.yes and not (sys.stdin.isatty() and input(question).strip().lower() in ("y", "yes")):
        print("nothing written (pass --yes to write without asking)")
        return 0
    tagged = tagging.apply(client.index, args.attribute, [h.id for h in candidates])
    print(f"tagged {tagged} products with {args.attribute.field}={args.attribute.value}")
    return 0


def _cluster(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import clustering
    from embedder.solr import SolrIndex

    index = SolrIndex(settings.collection_url)
    if args.name:
        tagged = clustering.assign_attribute(index, int(args.name[0]), _attribute(args.name[1]))
        print(f"tagged the {tagged} products of cluster {args.name[0]} with {args.name[1]}")
        return 0
    result = clustering.cluster_catalog(index, k=args.k)
    print(f"{'cluster':>7} {'size':>6}  representative (nearest to the centroid)")
    for c in result.clusters:
        print(f"{c.id:>7} {c.size:>6}  {c.representative}")
    return 0


def _recommend(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient

    values = _given(args, options.RECOMMEND_REQUEST)
    if not values.get("like"):
        raise errors.BadInput("recommend: give 1 or more --like product ids")
    page = LookalikeClient.connect(settings).recommend(**values)
    print(format_hits(page.hits))
    return 0


def _cells(args: argparse.Namespace, settings: Settings) -> int:
    from embedder import cells
    from embedder.solr import SolrIndex

    sample = cells.sample_index(SolrIndex(settings.collection_url), args.sample)
    centroids = cells.train(sample, args.count or cells.cell_count(len(sample)))
    cells.write(centroids, args.out)
    print(
        f"wrote {len(centroids)} cells of {centroids.shape[1]} components to {args.out}; declare it on "
        f'the vector field type (cells="{args.out.name}"), reload the collection and re-index'
    )
    return 0


def _navigate(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient
    from embedder.navigation import Navigator

    navigator = Navigator(LookalikeClient.connect(settings))
    session, gallery = navigator.start(size=args.k)
    print("start:\n" + format_hits(gallery))
    for choice in args.steps:
        session, gallery = navigator.step(session.id, choice, k=args.k)
        print(f"\nafter choosing {choice}:\n" + format_hits(gallery))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.demo import run_demo

    return run_demo(settings, explicit_solr=args.solr is not None)


if __name__ == "__main__":
    sys.exit(main())
