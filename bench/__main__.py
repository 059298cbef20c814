"""``python -m bench --size small|medium|large``: one run, then bench/REPORT.md."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from bench import decoding, load, report
from bench.dataset import MissingRealVectors
from bench.run import PARTS, SIZES, run, run_parts

FOLDER = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--port", type=int, default=8990)
    parser.add_argument(
        "--keep-index",
        action="store_true",
        help="re-use the HNSW core of an earlier run (for development only: its indexing is then not measured "
        "again; the visual cores are made anew at each N)",
    )
    parser.add_argument(
        "--synthetic-spectrum",
        action="store_true",
        help="generate the data on a power-law spectrum instead of the real vectors' (../shared/datasets/"
        "inception-pool3-styles/vectors.npy); the results and the report say so",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite bench/REPORT.md from the results of the last run of this size",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="measure only this part again (repeatable), into the results of the last run of this size",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results_path = FOLDER / f"results-{args.size}.json"
    if args.report_only:
        results = json.loads(results_path.read_text())
    elif args.only:
        results = run_parts(args.size, args.port, tuple(args.only), json.loads(results_path.read_text()))
        results_path.write_text(json.dumps(results, indent=1))
    else:
        try:
            results = run(args.size, args.port, fresh=not args.keep_index, synthetic=args.synthetic_spectrum)
        except MissingRealVectors as error:
            parser.exit(2, f"bench: {error}\n")
        results_path.write_text(json.dumps(results, indent=1))
        load.write(load.run(docs=20_000, seconds=20, threads=4, port=args.port + 6, synthetic=args.synthetic_spectrum))
        decoding.write(decoding.run())
    print(f"wrote {report.write(results, FOLDER)}")


if __name__ == "__main__":
    main()
