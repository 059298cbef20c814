"""A no-op re-index (issue 17): re-running ``lookalike index`` on an unchanged catalog is a sync
that looks each batch up in Solr, hashes each row's vector source and writes nothing.

Two catalogs, each indexed once (not measured) and then re-run unchanged (measured, as the whole
``lookalike index`` command a user runs, Python start-up included):

- ``vectors``: ``--vectors FILE.npy`` rows (the identity is a hash of the row's 8 KiB vector);
- ``images``: local image files (the identity is a hash of the file's bytes), hard links to the
  60 generated demo photos so that the first run embeds only 60 images (through the embedding
  cache). A link reads like a file of its own; all of them are in the page cache.

Beside each no-op run the bench times its parts alone, in this process: reading the catalog,
the real-time gets of every id (in the job's batches) and the identity hashes.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.solr_bench import BenchSolr
from embedder import sync
from embedder.catalog import read_catalog
from embedder.pipeline import IndexOptions
from embedder.reduce import PCAReducer
from embedder.samples import SIZE, generate_catalog
from embedder.solr import SolrIndex
from embedder.sources import ImageSource, VectorFile

TARGET_S = 60.0  # issue 17: a no-op re-index of 100,000 products
TARGET_ROWS = 100_000
BRANDS = ("Northwind", "Acme", "Lumen", "Pico")


def run(bench_solr: BenchSolr, data: Path, rows: int, image_rows: int) -> dict:
    solr = bench_solr.solr
    index = SolrIndex(f"{solr.url}/{solr.collection}")
    folder = data / "sync"
    folder.mkdir(parents=True, exist_ok=True)
    pca = _pca(folder)
    env = {
        **os.environ,
        "LOOKALIKE_SOLR_URL": solr.url,
        "LOOKALIKE_COLLECTION": solr.collection,
        "LOOKALIKE_HOME": str(folder / "home"),
        "LOOKALIKE_WEIGHTS": "none",
    }
    cases = {}
    catalog, vectors = _vector_catalog(folder, rows)
    what = (
        f"random non-negative float32 rows of a `--vectors` file ({vectors.stat().st_size / 2**20:.0f} MiB),"
        " no image column"
    )
    cases["vectors"] = _case(
        bench_solr, env, catalog, pca, ["--vectors", str(vectors)], VectorFile(vectors, rows), what
    )
    catalog, photos = _image_catalog(folder, image_rows)
    what = (
        f"local JPEG files, hard links to {len(photos)} generated {SIZE}x{SIZE} photos of"
        f" {np.mean([p.stat().st_size for p in photos]) / 1024:.0f} KiB on average, all in the page cache"
    )
    cases["images"] = _case(bench_solr, env, catalog, pca, [], ImageSource(runtime=None), what)
    index.delete_all()
    return {
        "cases": cases,
        "target_s": TARGET_S,
        "target_rows": TARGET_ROWS,
        "batch": IndexOptions.batch_size,
        "command": "lookalike index CATALOG [--vectors FILE.npy] --no-progress",
        "load_average": os.getloadavg()[1],  # other work on the shared machine while measuring
    }


def target(r: dict) -> tuple[str, str, str]:
    """The issue's target against the vectors catalog's no-op run (projected when it was smaller)."""
    case = r["cases"]["vectors"]
    goal = f"no-op re-index of {r['target_rows']:,} products < {r['target_s']:.0f} s"
    seconds = case["noop"]["seconds"]
    if case["rows"] >= r["target_rows"]:
        return goal, f"{seconds:.1f} s ({case['rows']:,} products)", _verdict(seconds, r["target_s"])
    projected = _projected(case, r["target_rows"])
    return goal, f"{seconds:.1f} s for {case['rows']:,}; {projected:.0f} s projected", "not measured at that size"


def _projected(case: dict, rows: int) -> float:
    """The no-op command's seconds for ``rows`` products: its start-up, and its job scaled."""
    noop = case["noop"]
    return noop["seconds"] - noop["job_seconds"] + noop["job_seconds"] * rows / case["rows"]


def _verdict(seconds: float, goal: float) -> str:
    return "met" if seconds < goal else f"**missed** ({seconds / goal:.2f}x the goal)"


def section(r: dict) -> str:
    """The report's section, from this run's numbers."""
    lines = [
        "## No-op re-index (issue 17)\n",
        f"Each catalog was indexed once, then `{r['command']}` was run again unchanged and timed as a whole"
        " command (Python start-up included; neither run of a `--vectors` catalog loads TensorFlow), once Solr"
        " was idle again (the merges the first run left took the seconds shown). The"
        " parts were then timed alone in the bench's process, in the job's batches of"
        f" {r['batch']} rows. Load average (5 min) while measuring: {r['load_average']:.1f} on"
        f" {os.cpu_count()} cores.\n",
        "| catalog | products | first run s | merges s | no-op run s | of which the job's clock s "
        "| for 100,000 s (job scaled) | reading the catalog s | real-time gets s (requests) | hashing s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, case in r["cases"].items():
        noop, parts = case["noop"], case["parts"]
        lines.append(
            f"| {name} | {case['rows']:,} | {case['first']['seconds']:.1f} | {case['settled_s']:.0f} "
            f"| {noop['seconds']:.1f} "
            f"| {noop['job_seconds']:.1f} | {_projected(case, 100_000):.1f} "
            f"| {parts['read_catalog_s']:.1f} | {parts['lookup_s']:.1f} ({parts['lookups']:,}) "
            f"| {parts['hash_s']:.1f} |"
        )
    return "\n".join(lines) + "\n\n" + _discussion(r) + "\n"


def _discussion(r: dict) -> str:
    notes = []
    for name, case in r["cases"].items():
        noop, parts = case["noop"], case["parts"]
        share = parts["lookup_s"] / noop["job_seconds"] if noop["job_seconds"] else 0.0
        summed = parts["read_catalog_s"] + parts["lookup_s"] + parts["hash_s"]
        notes.append(
            f"- **{name}**: {case['what']}. The job's clock is {noop['job_seconds']:.1f} s of the command's"
            f" {noop['seconds']:.1f} s (the rest is the process starting: Python and its imports). Its real-time"
            f" gets alone take {share:.0%} of it, {parts['lookup_s'] * 1000 / parts['lookups']:.1f} ms per"
            f" request of {r['batch']} ids; hashing takes {parts['hash_s'] * 1e6 / case['rows']:.0f} µs per row."
            + _remainder(noop["job_seconds"], summed)
        )
    return "\n".join(notes)


def _remainder(job_s: float, summed: float) -> str:
    """What the parts timed alone leave of the job's clock, or by how much they overshoot it."""
    if summed > job_s:
        return (
            f" The parts, timed alone after the job, add up to {summed:.1f} s, {summed - job_s:.1f} s more than"
            " the job's clock: in this run their timings vary by at least that much."
        )
    return (
        f" The parts add up to {summed:.1f} s; the other {job_s - summed:.1f} s of the job's clock are its own"
        " bookkeeping, loading the PCA model and, not measured apart, its gets costing more than the parts':"
        " they were the first reads of the index since the build, the parts' ran after them."
    )


def _case(bench_solr: BenchSolr, env: dict, catalog: Path, pca: Path, flags: list[str], source, what: str) -> dict:
    index = SolrIndex(f"{bench_solr.solr.url}/{bench_solr.solr.collection}")
    index.delete_all()
    first = _lookalike(env, catalog, [*flags, "--pca", str(pca)])  # builds the collection, fits no PCA
    # A daily re-run finds a settled index: the merges the first run left would slow every lookup.
    settled_s = bench_solr.settle()
    noop = _lookalike(env, catalog, flags)
    parts = _parts(index, catalog, source, vectors_given=bool(flags))
    return {
        "rows": _count(noop["summary"], "unchanged"),
        "first": first,
        "settled_s": settled_s,
        "noop": noop,
        "parts": parts,
        "what": what,
    }


def _lookalike(env: dict, catalog: Path, flags: list[str]) -> dict:
    """One ``lookalike index`` command: its wall seconds, its summary and its own timing."""
    command = [sys.executable, "-m", "embedder.cli", "index", str(catalog), "--no-progress", *flags]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = done.stdout.strip().splitlines()[0]
    job = re.search(r" in ([0-9.]+)s ", summary)
    return {"seconds": seconds, "job_seconds": float(job[1]) if job else None, "summary": summary}


def _count(summary: str, change: str) -> int:
    match = re.search(rf"{change} (\d+)", summary)
    return int(match[1]) if match else 0


def _parts(index: SolrIndex, catalog: Path, source, vectors_given: bool) -> dict:
    """The no-op run's parts, each timed alone: read the catalog, look every batch up, hash."""
    started = time.perf_counter()
    rows = list(read_catalog(catalog, index.schema_info(), image_required=not vectors_given))
    read = time.perf_counter() - started
    batch = IndexOptions.batch_size
    started = time.perf_counter()
    for first in range(0, len(rows), batch):
        index.get([r.id for r in rows[first : first + batch]], fl=sync.REMEMBERED)
    lookup = time.perf_counter() - started
    started = time.perf_counter()
    for row in rows:
        source.identity(row)
        sync.catalog_hash_of(row)
    hashing = time.perf_counter() - started
    return {"read_catalog_s": read, "lookup_s": lookup, "hash_s": hashing, "lookups": -(-len(rows) // batch)}


def _pca(folder: Path) -> Path:
    """A PCA model for the first runs, so that they fit none (a fit is not what is measured)."""
    path = folder / "pca.npz"
    if not path.exists():
        raw = np.random.default_rng(0).standard_normal((1100, 2048)).astype(np.float32)
        PCAReducer(1024).fit(raw).save(path)
    return path


def _vector_catalog(folder: Path, rows: int) -> tuple[Path, Path]:
    catalog, vectors = folder / f"vectors-{rows}.csv", folder / f"vectors-{rows}.npy"
    if not vectors.exists():
        array = np.lib.format.open_memmap(vectors, mode="w+", dtype=np.float32, shape=(rows, 2048))
        rng = np.random.default_rng(1)
        for first in range(0, rows, 10_000):  # pool_3 vectors are non-negative
            block = rng.standard_normal((min(10_000, rows - first), 2048), dtype=np.float32)
            array[first : first + len(block)] = np.abs(block)
        array.flush()
        del array
    _write_catalog(catalog, rows, lambda i: {})
    return catalog, vectors


def _image_catalog(folder: Path, rows: int) -> tuple[Path, list[Path]]:
    photos = sorted((folder / "demo" / "images").glob("*.jpg"))
    if not photos:
        generate_catalog(folder / "demo")
        photos = sorted((folder / "demo" / "images").glob("*.jpg"))
    links = folder / f"images-{rows}"
    links.mkdir(exist_ok=True)
    for i in range(rows):
        link = links / f"{i}.jpg"
        if not link.exists():
            os.link(photos[i % len(photos)], link)
    catalog = folder / f"images-{rows}.csv"
    _write_catalog(catalog, rows, lambda i: {"image": f"{links.name}/{i}.jpg"})
    return catalog, photos


def _write_catalog(path: Path, rows: int, extra) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["id", "image", "title", "brand", "category", "price"])
        writer.writeheader()
        for i in range(rows):
            writer.writerow(
                {
                    "id": f"P{i:07d}",
                    **extra(i),
                    "title": f"Product {i} in cotton",
                    "brand": BRANDS[i % len(BRANDS)],
                    "category": ("tshirt", "dress", "shoe", "bag")[i % 4],
                    "price": f"{9 + i % 100}.99",
                }
            )
