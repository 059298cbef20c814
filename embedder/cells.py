"""Coarse cells for the plugin's opt-in approximate mode (``{!visual probe=N}``): k-means
centroids of the leading PCA components of the catalog, written in the cells file format the
field type reads (docs/vector-format.md): little-endian int32 cell count, int32 component count,
then each centroid's float32 components."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from embedder import contract
from embedder.errors import BadInput, Conflict
from embedder.solr import SolrIndex

# The leading PCA components the cells are trained and assigned on. On the benchmark's 1M
# catalog, 64 components needed 5% of the documents probed for recall@10 = 0.96; 256 reach 0.99
# probing 2% (bench/REPORT.md), and the plugin abandons far centroids after 64 of them.
CELL_DIMS = 256
SAMPLE = 100_000


# The most cells by default: 1000 cells of CELL_DIMS float32 components make a file of
# 1,024,008 bytes, under ZooKeeper's default limit on a node (jute.maxbuffer, 1 MiB less a byte)
# with room for the request around it; more need that limit raised (docs/vector-format.md).
MAX_DEFAULT_CELLS = 1000


def cell_count(n: int) -> int:
    """About sqrt(n) cells, the usual inverted-file choice, between 64 and MAX_DEFAULT_CELLS."""
    return int(np.clip(round(np.sqrt(n)), 64, MAX_DEFAULT_CELLS))


def file_size(count: int, dims: int = CELL_DIMS) -> int:
    """The bytes of a cells file: the two int32 header fields, then the float32 centroids."""
    return 8 + count * dims * 4


def train(sample: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """k-means centroids of the first CELL_DIMS components of ``sample`` (rows are vectors)."""
    leading = np.asarray(sample[:, :CELL_DIMS], dtype=np.float32)
    if not 1 <= count <= len(leading):
        raise BadInput(f"cells: need 1 <= count <= sample size {len(leading)}, got {count}")
    kmeans = MiniBatchKMeans(count, batch_size=4096, n_init=1, random_state=seed)
    return kmeans.fit(leading).cluster_centers_.astype(np.float32)


def write(centroids: np.ndarray, path: Path) -> Path:
    path = Path(path)
    path.write_bytes(struct.pack("<ii", *centroids.shape) + centroids.astype("<f4").tobytes())
    return path


def read(path: Path) -> np.ndarray:
    data = Path(path).read_bytes()
    count, dims = struct.unpack_from("<ii", data)
    return np.frombuffer(data, dtype="<f4", offset=8).reshape(count, dims)


def sample_index(index: SolrIndex, size: int = SAMPLE, page: int = 1000) -> np.ndarray:
    """Up to ``size`` stored vectors of the collection (in id order), for training cells."""
    rows = []
    for doc in index.stream(f"id,{contract.VECTOR_FIELD}", fq=[f"{contract.VECTOR_FIELD}:*"], rows=page):
        rows.append(contract.decode_vector(doc[contract.VECTOR_FIELD])[:CELL_DIMS])
        if len(rows) == size:
            break
    if not rows:
        raise Conflict(f"{index.url} has no vectors to train cells on: index a catalog first")
    return np.stack(rows)
