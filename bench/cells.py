"""Coarse cells for the benchmark's approximate-mode contenders, sized and trained at each
measuring point as ``lookalike cells`` would for a catalog of that size (embedder/cells.py: about
sqrt(N) cells, from a sample of the catalog), and declared on the image vector type of a copy of a
configset, as docs/vector-format.md tells users to.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.dataset import Stored
from embedder import cells as product_cells

CELLS_FILE = "cells.bin"
# The probe settings measured, the same counts at every N (FAISS's IVF gets the same nprobe).
PROBES = (5, 10, 20)
# ZooKeeper refuses a node of this many bytes or more (jute.maxbuffer): a configset file must fit.
ZOOKEEPER_NODE_LIMIT = 1_048_575
# The type the cells go on: the 1024-d PCA vectors' (the shipped schema also has a 2048-d type).
VECTOR_TYPE = "image_vector"


@dataclass(frozen=True)
class Cells:
    centroids: np.ndarray
    train_seconds: float

    def summary(self) -> dict[str, float]:
        count, dims = self.centroids.shape
        return {
            "count": count,
            "dims": dims,
            "file_bytes": product_cells.file_size(count, dims),
            "train_s": self.train_seconds,
        }


def train(stored: Stored, n: int, seed: int = 0) -> Cells:
    """Cells for the first n documents, as ``lookalike cells`` trains them: the product's count
    for n, from a sample of them."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, product_cells.SAMPLE), replace=False))
    sample = np.asarray(stored.vectors[rows, : product_cells.CELL_DIMS], dtype=np.float32)
    centroids = product_cells.train(sample, product_cells.cell_count(n), seed)
    size = product_cells.file_size(*centroids.shape)
    if size >= ZOOKEEPER_NODE_LIMIT:
        raise ValueError(f"{len(centroids)} cells make a {size:,}-byte file, over ZooKeeper's node limit")
    return Cells(centroids, time.perf_counter() - started)


def configset(base: Path, target: Path, cells: Cells, sketch_dimensions: int | None = None) -> Path:
    """A copy of ``base`` whose image vector type declares the cells (and ``sketch_dimensions``,
    when given, instead of the type's default); returns ``target``."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    product_cells.write(cells.centroids, target / "conf" / CELLS_FILE)
    schema = target / "conf" / "schema.xml"
    text, count = re.subn(
        rf'(<fieldType name="{VECTOR_TYPE}" class="io\.lookalike\.solr\.ImageVectorField" dimension="\d+")',
        rf'\1 cells="{CELLS_FILE}"' + (f' sketchDimensions="{sketch_dimensions}"' if sketch_dimensions else ""),
        schema.read_text(),
    )
    if count != 1:
        raise ValueError(f"{schema}: expected one ImageVectorField type named {VECTOR_TYPE}, found {count}")
    schema.write_text(text)
    return target
