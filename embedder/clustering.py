"""Clustering the catalog into candidate attributes, each with a representative image.

MiniBatchKMeans (scikit-learn) is fitted on the indexed vectors streamed from Solr page by page,
so memory holds one page, not the catalog. A last pass writes each product's ``cluster_id``
(atomic updates keep the rest of the document) and finds each cluster's representative: the
product nearest to its centroid. The result is stored in the collection (``kind=clusters``) for
the service, the web page and navigation. A merchandiser then names a cluster, and the attribute
lands on all of its members.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from tqdm import tqdm

from embedder import contract, state, tagging
from embedder.client import Query
from embedder.errors import BadInput, NotFound
from embedder.solr import SolrIndex

log = logging.getLogger(__name__)

HAS_VECTOR = f"{contract.VECTOR_FIELD}:*"


@dataclass(frozen=True)
class Cluster:
    id: int
    size: int
    representative: str  # the product nearest to the centroid
    representative_distance: float  # its squared distance to the centroid


@dataclass(frozen=True)
class Clustering:
    clusters: list[Cluster]
    centroids: np.ndarray
    pca_version: str
    created_at: str


def cluster_catalog(
    index: SolrIndex, k: int = 8, *, seed: int = 0, epochs: int = 3, page: int = 1000, progress: bool = True
) -> Clustering:
    """Clusters every product with a vector into ``k`` clusters and writes ``cluster_id``."""
    total = index.count([HAS_VECTOR])
    if not 2 <= k <= min(total, 1000):
        raise BadInput(f"k must be between 2 and min(products with a vector, 1000) = {min(total, 1000)}, got {k}")
    page = max(page, k)  # MiniBatchKMeans needs k rows in its first batch
    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=page, n_init=3)
    with tqdm(total=total * epochs, unit="vec", desc="clustering", disable=not progress) as bar:
        for _ in range(epochs):
            for ids, vectors in _pages(index, page):  # the first page has >= k rows
                kmeans.partial_fit(vectors)
                bar.update(len(ids))
    centroids = kmeans.cluster_centers_.astype(np.float32)
    sizes = np.zeros(k, dtype=int)
    nearest = [("", np.inf)] * k
    for ids, vectors in _pages(index, page):
        distances = ((vectors[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
        labels = distances.argmin(axis=1)
        index.add([{"id": i, contract.CLUSTER_FIELD: {"set": int(c)}} for i, c in zip(ids, labels)])
        for product_id, label, distance in zip(ids, labels, distances[np.arange(len(ids)), labels]):
            sizes[label] += 1
            if (distance, product_id) < (nearest[label][1], nearest[label][0]):
                nearest[label] = (product_id, float(distance))
    index.commit()
    clustering = Clustering(
        clusters=[Cluster(c, int(sizes[c]), nearest[c][0], nearest[c][1]) for c in range(k) if sizes[c]],
        centroids=centroids,
        pca_version=state.model_version(index) or "",
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    meta = {
        "clusters": [asdict(c) for c in clustering.clusters],
        "pca_version": clustering.pca_version,
        "created_at": clustering.created_at,
    }
    state.store_clustering(index, meta, centroids)
    log.info("clustered %d products into %d clusters", total, len(clustering.clusters))
    return clustering


def load_clustering(index: SolrIndex) -> Clustering | None:
    stored = state.load_clustering(index)
    if stored is None:
        return None
    meta, centroids = stored
    return Clustering([Cluster(**c) for c in meta["clusters"]], centroids, meta["pca_version"], meta["created_at"])


COMPOSITION_FIELDS = ("category", "color", "brand")  # what a merchandiser reads a cluster by
COMPOSITION_VALUES = 3


def composition(index: SolrIndex, fields: Sequence[str] = COMPOSITION_FIELDS) -> dict[int, dict[str, list]]:
    """What each cluster holds: its most frequent values of a few fields, with their counts."""
    held: dict[int, dict[str, list]] = {}
    for name, clusters in index.pivots(contract.CLUSTER_FIELD, fields, COMPOSITION_VALUES).items():
        for cluster, values in clusters.items():
            held.setdefault(int(cluster), {})[name] = [list(pair) for pair in values]
    return held


def members_query(result: Clustering, cluster_id: int, **values: object) -> Query:
    """The members of a cluster, nearest its centroid first: a query paged like any other."""
    if not any(c.id == cluster_id for c in result.clusters):
        raise NotFound(f"no cluster {cluster_id} in the last clustering")
    fq = [*values.pop("fq", ()), f"{contract.CLUSTER_FIELD}:{int(cluster_id)}"]
    return Query(vector=result.centroids[cluster_id], model=result.pca_version or None, fq=fq, **values)


def assign_attribute(index: SolrIndex, cluster_id: int, attribute: tagging.Attribute, page: int = 1000) -> int:
    """Writes the attribute into every member of a cluster; returns how many."""
    members = [doc["id"] for doc in index.stream("id", fq=[f"{contract.CLUSTER_FIELD}:{int(cluster_id)}"], rows=page)]
    if not members:
        raise NotFound(f"cluster {cluster_id} has no members")
    return sum(tagging.apply(index, attribute, members[i : i + page]) for i in range(0, len(members), page))


def _pages(index: SolrIndex, page: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """(ids, vectors) pages of the products with a vector, in id order."""
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    for doc in index.stream(f"id,{contract.VECTOR_FIELD}", fq=[HAS_VECTOR], rows=page):
        ids.append(doc["id"])
        vectors.append(contract.decode_vector(doc[contract.VECTOR_FIELD]))
        if len(ids) == page:
            yield ids, np.stack(vectors)
            ids, vectors = [], []
    if ids:
        yield ids, np.stack(vectors)
