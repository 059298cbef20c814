"""Coarse cells for the plugin's opt-in approximate mode ({!visual probe=N}): k-means centroids
of the first CELL_DIMS components of a catalog sample, written in the plugin's cells file format
(docs/query-syntax.md) into a copy of the bench configset.
"""
from __future__ import annotations

import re
import shutil
import struct
from pathlib import Path

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from bench.dataset import Stored

CELL_DIMS = 64  # the leading PCA components: most of the variance, cheap to assign
SAMPLE = 100_000
CELLS_FILE = "cells.bin"


def cell_count(n: int) -> int:
    """About sqrt(n) cells, the usual inverted-file choice, between 64 and 1024."""
    return int(np.clip(round(np.sqrt(n)), 64, 1024))


def probes(cells: int) -> tuple[int, ...]:
    """The probe settings measured: about 2%, 5% and 12% of the cells."""
    return tuple(sorted({max(1, cells // 50), max(1, cells // 20), max(1, cells // 8)}))


def train(stored: Stored, n: int, seed: int = 0) -> np.ndarray:
    """Centroids of the first CELL_DIMS components of a sample of the first n documents."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, SAMPLE), replace=False))
    sample = np.asarray(stored.vectors[rows, :CELL_DIMS], dtype=np.float32)
    kmeans = MiniBatchKMeans(cell_count(n), batch_size=4096, n_init=1, random_state=seed)
    return kmeans.fit(sample).cluster_centers_.astype(np.float32)


def configset(base: Path, target: Path, centroids: np.ndarray) -> Path:
    """A copy of ``base`` whose image vector type declares the cells; returns ``target``."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target)
    header = struct.pack("<ii", *centroids.shape)
    (target / "conf" / CELLS_FILE).write_bytes(header + centroids.astype("<f4").tobytes())
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
