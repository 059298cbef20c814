"""The ``lookalike`` command line. TensorFlow is imported only by commands that embed images,
so ``lookalike --help`` and ``lookalike solr status`` start fast."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from embedder.catalog import Shard
from embedder.config import ENVIRONMENT, Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("pysolr").setLevel(logging.WARNING)  # it logs every request at INFO
    try:
        settings = load_settings(
            solr_url=args.solr, collection=args.collection, home=args.home,
            weights=getattr(args, "weights", None), solr_port=getattr(args, "port", None),
            batch_size=getattr(args, "batch_size", None),
        )  # fmt: skip
        return args.run(args, settings)
    except Exception as error:  # one clear line for the user; details with --verbose
        if args.verbose:
            raise
        print(f"lookalike: error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    env = "; ".join(f"{v} ({k})" for k, v in ENVIRONMENT.items())
    parser = argparse.ArgumentParser(
        prog="lookalike",
        description="Visual search inside Apache Solr.",
        epilog=f"Environment variables: {env}. Flags override them.",
    )
    parser.add_argument("--solr", help=f"Solr base URL (default {Settings.solr_url})")
    parser.add_argument("--collection", help=f"collection (default {Settings.collection})")
    parser.add_argument("--home", type=Path, help="working directory for local state (default ./.lookalike)")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    solr = commands.add_parser("solr", help="a local Solr server: start, stop, status")
    solr.add_argument("action", choices=("start", "stop", "status"))
    solr.add_argument("--port", type=int, help=f"HTTP port (default {Settings.solr_port})")
    solr.set_defaults(run=_solr)

    index = commands.add_parser("index", help="index a catalog (CSV or JSON Lines)")
    index.add_argument("catalog", type=Path)
    _weights(index)
    index.add_argument("--batch-size", type=int, help=f"images per model batch (default {Settings.batch_size})")
    index.add_argument("--fit-sample", type=int, default=10_000, help="images to fit the PCA on (default 10000)")
    index.add_argument("--refit", action="store_true", help="fit a new PCA model and re-index everything")
    index.add_argument("--pca", type=Path, help="use this saved PCA model instead of the collection's")
    index.add_argument("--shard", type=Shard.parse, default=Shard(), help="I/N: this worker's share")
    index.add_argument("--report", type=Path, default=Path("lookalike-index-report.jsonl"),
                       help="where failures and skips are listed (default ./lookalike-index-report.jsonl)")
    index.add_argument("--no-progress", action="store_true")
    index.set_defaults(run=_index)

    search = commands.add_parser("search", help="visual search, with keywords and filters")
    query = search.add_mutually_exclusive_group()
    query.add_argument("--image", help="query image: a path or URL")
    query.add_argument("--id", help="a product id: find its lookalikes")
    search.add_argument("--text", help="keywords")
    search.add_argument("--fq", action="append", default=[], help="a Solr filter query (repeatable)")
    search.add_argument("-k", type=int, default=10, help="results (default 10)")
    search.add_argument("--max-dist", type=float, help="squared-distance threshold")
    search.add_argument("--hybrid", action="store_true", help="rank by keyword relevance + visual score")
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _weights(search)
    search.set_defaults(run=_search)

    demo = commands.add_parser("demo", help="start Solr, index a generated catalog, run a query")
    _weights(demo)
    demo.add_argument("--port", type=int, help=f"local Solr port (default {Settings.solr_port})")
    demo.set_defaults(run=_demo)
    return parser


def _weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", help="imagenet | none (seeded random) | PATH to .h5/.keras (default imagenet)")


def _solr(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.localsolr import LocalSolr

    local = LocalSolr(settings.home, settings.solr_port, settings.collection)
    if args.action == "start":
        print(f"Solr is up: {local.start()} (log: {local.log_file})")
    elif args.action == "stop":
        print("Solr stopped" if local.stop() else "Solr was not running")
    else:
        status = local.status()
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    return 0


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.model import FeatureExtractor
    from embedder.pipeline import IndexOptions, Indexer
    from embedder.solr import SolrIndex

    options = IndexOptions(
        batch_size=settings.batch_size, fit_sample=args.fit_sample, refit=args.refit,
        pca_path=args.pca, shard=args.shard, report_path=args.report, progress=not args.no_progress,
    )  # fmt: skip
    indexer = Indexer(SolrIndex(settings.collection_url), FeatureExtractor.load(settings.weights), options)
    summary = indexer.run(args.catalog)
    print(summary.format())
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.client import LookalikeClient

    client = LookalikeClient.connect(settings)
    hits = client.search(
        image=args.image, id=args.id, text=args.text, fq=args.fq, k=args.k,
        max_dist=args.max_dist, hybrid=args.hybrid,
    )  # fmt: skip
    if args.json:
        print(json.dumps([hit.__dict__ for hit in hits], indent=2, default=str))
    else:
        print(format_hits(hits))
    return 0


def format_hits(hits: list) -> str:
    """A table, one product per line starting with its id."""
    if not hits:
        return "(no results)"
    header = f"{'id':<14} {'distance':>10} {'score':>8}  {'category':<10} {'color':<8} title"
    lines = [header]
    for hit in hits:
        distance = "" if hit.distance is None else f"{hit.distance:10.3f}"
        lines.append(
            f"{hit.id:<14} {distance:>10} {hit.score:8.4f}  {str(hit.fields.get('category', '')):<10} "
            f"{str(hit.fields.get('color', '')):<8} {hit.fields.get('title', '')}"
        )
    return "\n".join(lines)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from embedder.demo import run_demo

    return run_demo(settings, explicit_solr=args.solr is not None)


if __name__ == "__main__":
    sys.exit(main())
