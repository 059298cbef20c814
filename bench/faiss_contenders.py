"""FAISS beside Solr, on the same vectors and queries: in-process (no HTTP, no JSON, no request
parsing), so its latencies are the floor a vector library reaches on this machine, not a fair race
with a search server.

- exact: ``IndexFlatL2``, on one thread and with FAISS's OpenMP threads set to the machine's cores;
- IVF: ``IndexIVFFlat`` with IVF_CELLS cells, fewer where N gives FAISS under MIN_POINTS_PER_CELL
  training points a cell, trained at each N on a sample of the first N documents as large as the
  plugin's (embedder/cells.py), probed at ``nprobe`` in bench.cells.PROBES;
- HNSW: ``IndexHNSW`` with M=16 and efConstruction=100, Lucene's defaults, so that its graph is
  built like Solr's; searched at ``efSearch`` in EF_SEARCH. It grows with the catalog like the
  Solr core, its storage is the flat index (one copy of the vectors);
- filtered: the same searches with an ID selector of the filter's documents in the search
  parameters: ``IDSelectorArray`` for the flat index (FAISS then computes only those distances),
  ``IDSelectorBatch`` (a hash set) for IVF and HNSW, which test each candidate. A selector is
  built at the first query with its filter value and kept, as Solr's filterCache keeps a filter.

Searches run on one thread, as a Solr request does, but for the flat index's second contender.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import faiss
import numpy as np

from bench.cells import PROBES
from bench.contenders import Case, Contender
from bench.dataset import Stored
from bench.exact import K
from embedder import cells as product_cells

log = logging.getLogger(__name__)
M = 16
EF_CONSTRUCTION = 100
EF_SEARCH = (64, 128, 256)
IVF_CELLS = 1000
MIN_POINTS_PER_CELL = 39  # FAISS's k-means warns below this many training points per centroid
ADD_ROWS = 50_000  # rows copied out of the catalog file per add
KINDS = ("unfiltered", "filter10", "filter1")
CORES = os.cpu_count() or 1
VERSION = faiss.__version__


def ivf_cells(n: int) -> int:
    return min(IVF_CELLS, n // MIN_POINTS_PER_CELL)


class FaissIndexes:
    """The FAISS indexes of the first N documents of the catalog, grown at each measuring point."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.flat = faiss.IndexFlatL2(dim)
        self.hnsw: faiss.IndexHNSW | None = faiss.IndexHNSW(self.flat, M)
        self.hnsw.hnsw.efConstruction = EF_CONSTRUCTION
        self.ivf: faiss.IndexIVFFlat | None = None
        self.hnsw_rate: float | None = None

    def grow(self, stored: Stored, n: int, hnsw_budget_s: float) -> list[dict]:
        """Adds documents up to ``n`` (HNSW unless projected over budget, as for Solr's) and
        trains a new IVF for ``n``; returns what each build took."""
        self.ivf = None  # the last N's, freed before the new one takes memory
        faiss.omp_set_num_threads(CORES)
        have = self.flat.ntotal
        builds = []
        if self.hnsw is not None and self.hnsw_rate and (n - have) / self.hnsw_rate > hnsw_budget_s:
            builds.append({"index": "hnsw", "from": have, "to": n, "skipped": True, "rate": self.hnsw_rate})
            self.hnsw = None  # its graph would miss the documents added to the flat index alone
        target = self.hnsw if self.hnsw is not None else self.flat
        started = time.perf_counter()
        for first in range(have, n, ADD_ROWS):
            target.add(np.ascontiguousarray(stored.vectors[first : min(n, first + ADD_ROWS)]))
        seconds = time.perf_counter() - started
        if self.hnsw is not None:
            self.hnsw_rate = (n - have) / seconds
        builds.append({"index": "flat" if self.hnsw is None else "hnsw", "from": have, "to": n, "seconds": seconds})
        builds.append(self._train_ivf(stored, n))
        faiss.omp_set_num_threads(1)
        return [{**b, "threads": CORES} for b in builds]

    def _train_ivf(self, stored: Stored, n: int) -> dict:
        cells = ivf_cells(n)
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(n, size=min(n, product_cells.SAMPLE), replace=False))
        started = time.perf_counter()
        self.ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(self.dim), self.dim, cells)
        self.ivf.train(np.ascontiguousarray(stored.vectors[rows]))
        trained = time.perf_counter()
        for first in range(0, n, ADD_ROWS):
            self.ivf.add(np.ascontiguousarray(stored.vectors[first : min(n, first + ADD_ROWS)]))
        return {
            "index": "ivf",
            "from": 0,
            "to": n,
            "cells": cells,
            "train_rows": len(rows),
            "train_s": trained - started,
            "seconds": time.perf_counter() - started,
        }

    def contenders(self) -> list[Contender]:
        flat = [
            Contender(
                f"faiss-flat-{threads}t",
                KINDS,
                self._search(self.flat, faiss.SearchParameters, {}, faiss.IDSelectorArray, threads),
                f"FAISS IndexFlatL2, exact, {threads} OpenMP thread{'s' if threads > 1 else ''}; "
                "filters: IDSelectorArray",
            )
            for threads in sorted({1, CORES})
        ]
        ivf = [
            Contender(
                f"faiss-ivf-p{probe}",
                KINDS,
                self._search(self.ivf, faiss.SearchParametersIVF, {"nprobe": probe}, faiss.IDSelectorBatch),
                f"FAISS IndexIVFFlat, {self.ivf.nlist} cells, nprobe={probe}; filters: IDSelectorBatch",
            )
            for probe in PROBES
        ]
        hnsw = [
            Contender(
                f"faiss-hnsw-ef{ef}",
                KINDS,
                self._search(self.hnsw, faiss.SearchParametersHNSW, {"efSearch": ef}, faiss.IDSelectorBatch),
                f"FAISS IndexHNSW (M={M}, efConstruction={EF_CONSTRUCTION}), efSearch={ef}; filters: IDSelectorBatch",
            )
            for ef in EF_SEARCH
            if self.hnsw is not None
        ]
        return flat + ivf + hnsw

    @staticmethod
    def _search(
        index, parameters: type, settings: dict, selector: type, threads: int = 1
    ) -> Callable[[Case], list[int]]:
        plain = parameters(**settings)
        filtered: dict[tuple[str, str], object] = {}  # a filter's parameters, made at its first query

        def search(case: Case) -> list[int]:
            if case.rows is None:
                params = plain
            else:
                if case.filter not in filtered:
                    filtered[case.filter] = parameters(sel=selector(case.rows.astype(np.int64)), **settings)
                params = filtered[case.filter]
            faiss.omp_set_num_threads(threads)
            _, ids = index.search(case.vector[None, :], K, params=params)
            faiss.omp_set_num_threads(1)
            return [int(i) for i in ids[0] if i >= 0]

        return search
