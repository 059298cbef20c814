"""The ``lookalike`` command line. TensorFlow is imported only by commands that embed images,
so ``lookalike --help`` and ``lookalike solr status`` start fast."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from embedder import __version__, commands, contract, errors, options
from embedder.catalog import Shard, parse_rename
from embedder.config import ENVIRONMENT, Settings, load_settings


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


def _label(text: str) -> tuple[str, str]:
    field, sep, label = text.partition("=")
    if not sep or not field.strip() or not label.strip():
        raise argparse.ArgumentTypeError(f"expected FIELD=LABEL, e.g. attr_gender=Gender, got {text!r}")
    return field.strip(), label.strip()


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
    parser.add_argument("--home", type=Path, help=f"directory for local state (default {Settings.home})")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    subcommands = parser.add_subparsers(dest="command", required=True)

    solr = subcommands.add_parser("solr", help="a local Solr server: start, stop, status")
    solr.add_argument("action", choices=("start", "stop", "status"))
    solr.add_argument("--port", type=int, help=f"HTTP port (default {Settings.solr_port})")
    solr.add_argument("--cloud", action="store_true", help="a local SolrCloud with embedded ZooKeeper")
    solr.add_argument("--nodes", type=int, default=3, help="SolrCloud nodes (default 3)")
    solr.add_argument("--shards", type=int, default=2, help="shards of the collection (default 2)")
    solr.add_argument("--replicas", type=int, default=2, help="replicas of each shard (default 2)")
    solr.set_defaults(run=commands.solr)

    index = subcommands.add_parser("index", help="index a catalog (CSV or JSON Lines)")
    index.add_argument("catalog", type=Path)
    _weights(index)
    index.add_argument("--batch-size", type=int, help=f"images per model batch (default {Settings.batch_size})")
    index.add_argument("--fit-sample", type=int, default=10_000, help="images to fit the PCA on (default 10000)")
    index.add_argument(
        "--refit",
        action="store_true",
        help="fit a new PCA model: the catalog is rebuilt beside the live collection, which is then switched",
    )
    index.add_argument(
        "--configset",
        default=contract.CONFIGSET_NAME,
        help=f"standalone Solr: the named configset a rebuilt core is made from (default {contract.CONFIGSET_NAME})",
    )
    index.add_argument("--pca", type=Path, help="use this saved PCA model instead of the collection's")
    index.add_argument("--shard", type=Shard.parse, default=Shard(), help="I/N: this worker's share")
    index.add_argument(
        "--column",
        dest="renames",
        action="append",
        type=_rename,
        default=[],
        metavar="SRC=DEST",
        help="read the catalog's column SRC as DEST, e.g. productDisplayName=title (repeatable)",
    )
    index.add_argument("--delete-missing", action="store_true", help="delete the products the catalog no longer has")
    index.add_argument("--yes", action="store_true", help="with --delete-missing: even more than 20%% of them")
    index.add_argument(
        "--report",
        type=Path,
        help="where every row that changed or failed is listed, overwritten (default: a new "
        "HOME/reports/index-TIME.jsonl per run)",
    )
    index.add_argument(
        "--vectors",
        type=Path,
        metavar="FILE.npy",
        help="row i of this (rows, 2048) float32 array is catalog row i's pool_3 vector: nothing is embedded",
    )
    index.add_argument(
        "--no-cache", action="store_true", help="keep no embeddings under HOME/embeddings (kept by default)"
    )
    index.add_argument("--no-progress", action="store_true")
    index.set_defaults(run=commands.index)

    search = subcommands.add_parser("search", help="visual search, with keywords and filters")
    search.add_argument("--image", help="query image: a path or URL")
    options.add_arguments(search, options.SEARCH_REQUEST)
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _weights(search)
    search.set_defaults(run=commands.search)

    serve = subcommands.add_parser("serve", help="the HTTP sidecar and web page (waitress)")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    serve.add_argument("--port", dest="http_port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--threads", type=int, default=4, help="worker threads (default 4)")
    serve.add_argument("--max-upload-mb", type=int, default=10, help="upload size limit (default 10)")
    serve.add_argument(
        "--allow-private-urls", action="store_true", help="let image URLs point inside the network (refused by default)"
    )
    serve.add_argument("--read-only", action="store_true", help="take no writes (products, tags, clusters)")
    serve.add_argument(
        "--label",
        action="append",
        type=_label,
        default=[],
        metavar="FIELD=LABEL",
        help="what the page calls a field, e.g. attr_gender=Gender (repeatable)",
    )
    serve.add_argument(
        "--image-root",
        action="append",
        type=Path,
        default=[],
        help="another directory whose product images may be served (repeatable), besides the home and the "
        "directories of the catalogs indexed",
    )
    _weights(serve)
    serve.set_defaults(run=commands.serve)

    tag = subcommands.add_parser("tag", help="tag the lookalikes of example products with an attribute")
    tag.add_argument("attribute", type=commands.attribute, help="NAME=VALUE, e.g. style=hawaiian")
    tag.add_argument("--example", action="append", default=[], help="an example product id (repeatable)")
    tag.add_argument("--example-image", action="append", default=[], help="an example image (repeatable)")
    options.add_arguments(tag, options.TAG_PREVIEW_REQUEST)
    decide = tag.add_mutually_exclusive_group()
    decide.add_argument("--yes", action="store_true", help="write into every candidate without asking")
    decide.add_argument("--json", action="store_true", help="print the candidates as JSON and write nothing")
    _weights(tag)
    tag.set_defaults(run=commands.tag)

    untag = subcommands.add_parser("untag", help="remove an attribute value from products")
    untag.add_argument("attribute", type=commands.attribute, help="NAME=VALUE, e.g. style=hawaiian")
    which = untag.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", help="a product id (repeatable)")
    which.add_argument("--all", action="store_true", help="every product that has it")
    untag.set_defaults(run=commands.untag)

    delete = subcommands.add_parser("delete", help="delete products by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    delete.set_defaults(run=commands.delete)

    cluster = subcommands.add_parser("cluster", help="cluster the catalog; or name a cluster")
    cluster.add_argument("-k", type=int, default=8, help="clusters (default 8)")
    cluster.add_argument(
        "--name",
        nargs=2,
        metavar=("CLUSTER", "NAME=VALUE"),
        help="write an attribute into every member of a cluster instead",
    )
    cluster.set_defaults(run=commands.cluster)

    recommend = subcommands.add_parser("recommend", help="products like these, unlike those")
    options.add_arguments(recommend, options.RECOMMEND_REQUEST)
    recommend.set_defaults(run=commands.recommend)

    cells = subcommands.add_parser("cells", help="train coarse cells for the approximate mode {!visual probe=N}")
    cells.add_argument("out", type=Path, help="the cells file to write, e.g. solr-config/conf/cells.bin")
    cells.add_argument(
        "--count", type=int, help="cells (default about sqrt(products), 64 to 1000: a file under ZooKeeper's 1 MiB)"
    )
    cells.add_argument("--sample", type=int, default=100_000, help="vectors to train on (default 100000)")
    cells.set_defaults(run=commands.cells)

    navigate = subcommands.add_parser("navigate", help="a gallery of diverse products, then steps")
    navigate.add_argument("steps", nargs="*", help="product ids chosen one after another")
    navigate.add_argument("-k", type=int, default=8, help="gallery size (default 8)")
    navigate.add_argument(
        "--reject", action="append", metavar="ID", help="a product not like what is wanted (repeatable): steer away"
    )
    navigate.set_defaults(run=commands.navigate)

    demo = subcommands.add_parser("demo", help="start Solr, index a generated catalog, run a query")
    _weights(demo)
    demo.add_argument("--port", type=int, help=f"local Solr port (default {Settings.solr_port})")
    demo.set_defaults(run=commands.demo)
    return parser


def _rename(text: str) -> tuple[str, str]:
    try:
        return parse_rename(text)
    except errors.BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--weights",
        help="imagenet | none (seeded random) | PATH to .h5/.keras (default: the collection's, imagenet for a new one)",
    )


if __name__ == "__main__":
    sys.exit(main())
