"""Coarse cells for the benchmark's approximate-mode contenders: trained like ``lookalike cells``
(embedder/cells.py) on a sample of the generated catalog, written into a copy of the bench
configset whose vector type declares them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from bench.dataset import Stored
from embedder import cells as product_cells

CELLS_FILE = "cells.bin"


def probes(cells: int) -> tuple[int, ...]:
    """The probe settings measured: about 0.5%, 1% and 2% of the cells."""
    return tuple(sorted({max(1, cells // 200), max(1, cells // 100), max(1, cells // 50)}))


def train(stored: Stored, n: int, seed: int = 0) -> np.ndarray:
    """Cells from a sample of the first n documents, as ``lookalike cells`` trains them."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, product_cells.SAMPLE), replace=False))
    sample = np.asarray(stored.vectors[rows, : product_cells.CELL_DIMS], dtype=np.float32)
    return product_cells.train(sample, product_cells.cell_count(n), seed)


def configset(base: Path, target: Path, centroids: np.ndarray) -> Path:
    """A copy of ``base`` whose image vector type declares the cells; returns ``target``."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    product_cells.write(centroids, target / "conf" / CELLS_FILE)
    schema = target / "conf" / "schema.xml"
    text, count = re.subn(
        r'(class="io\.lookalike\.solr\.ImageVectorField" dimension="\d+")',
        rf'\1 cells="{CELLS_FILE}"',
        schema.read_text(),
    )
    if count != 1:
        raise ValueError(f"{schema}: expected one ImageVectorField type, found {count}")
    schema.write_text(text)
    return target
