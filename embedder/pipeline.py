"""The indexing job: catalog rows -> InceptionV3 pool_3 -> PCA -> Solr documents.

It streams (memory holds one batch, plus the PCA fitting sample when a model is fitted), skips
products already indexed with the current PCA model (so an interrupted run resumes where it
stopped, and nothing is duplicated because documents are keyed by product id), and records every
failure with its reason in a JSON Lines report.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from embedder import contract, state
from embedder.catalog import CatalogRow, Shard, read_catalog
from embedder.errors import BadInput
from embedder.fetch import FetchError, fetch_image
from embedder.reduce import PCAReducer
from embedder.runtime import EmbeddingRuntime
from embedder.solr import SchemaInfo, SolrIndex
from embedder.state import StoredModel, check_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexOptions:
    batch_size: int = 32
    fit_sample: int = 10_000  # images embedded to fit the PCA when no model is stored yet
    refit: bool = False
    pca_path: Path | None = None
    shard: Shard = Shard()
    report_path: Path = Path("lookalike-index-report.jsonl")
    progress: bool = True
    allow_private_urls: bool = True  # a merchant's catalog may use internal image hosts


@dataclass
class IndexSummary:
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    pca_version: str = ""
    report_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def format(self) -> str:
        rate = self.indexed / self.seconds if self.seconds else 0.0
        lines = [
            f"indexed {self.indexed}, skipped {self.skipped} (already indexed), "
            f"failed {self.failed} in {self.seconds:.1f}s ({rate:.1f} images/s)",
            f"PCA model {self.pca_version}; failures and skips with reasons: {self.report_path}",
        ]
        return "\n".join(lines + [f"note: {note}" for note in self.notes])


class Indexer:
    """Runs the indexing job for one catalog against one collection."""

    def __init__(self, index: SolrIndex, runtime: EmbeddingRuntime, options: IndexOptions) -> None:
        self.index = index
        self.runtime = runtime
        self.options = options

    def run(self, catalog: Path) -> IndexSummary:
        started = time.monotonic()
        schema = self.index.schema_info()
        summary = IndexSummary(report_path=self.options.report_path)
        rows = list(read_catalog(catalog, schema, self.options.shard))  # the file is read once
        model, cached = self._model(catalog, rows, schema, summary)
        reducer = model.reducer
        summary.pca_version = reducer.version
        with (
            open(self.options.report_path, "w", encoding="utf-8") as report,
            tqdm(total=len(rows), unit="img", desc="indexing", disable=not self.options.progress) as progress,
        ):
            for batch in _batched(rows, self.options.batch_size):
                self._index_batch(batch, reducer, cached, summary, report, skip_indexed=True)
                progress.update(len(batch))
        self.index.commit()
        summary.seconds = time.monotonic() - started
        log.info("index %s: %s", catalog, summary.format().replace("\n", "; "))
        return summary

    def _index_batch(
        self,
        batch: list[CatalogRow],
        reducer: PCAReducer,
        cached: dict[str, np.ndarray],
        summary: IndexSummary,
        report: TextIO,
        skip_indexed: bool,
    ) -> None:
        def fail(row: CatalogRow, reason: str, status: str = "failed") -> None:
            report.write(json.dumps({"id": row.id, "line": row.line, "status": status, "reason": reason}) + "\n")

        good = []
        for row in batch:
            if row.error:
                fail(row, row.error)
                summary.failed += 1
            else:
                good.append(row)
        done = self.index.ids_indexed_with([r.id for r in good], reducer.version) if skip_indexed else set()
        for row in (r for r in good if r.id in done):
            fail(row, f"already indexed with PCA model {reducer.version}", status="skipped")
        summary.skipped += sum(1 for r in good if r.id in done)
        todo = [r for r in good if r.id not in done]
        vectors, errors = self._embed(todo, cached)
        for row in todo:
            if row.id in errors:
                fail(row, errors[row.id])
        embedded = [row for row, vector in zip(todo, vectors) if vector is not None]
        reduced = reducer.transform(np.stack([v for v in vectors if v is not None])) if embedded else []
        docs = [
            {
                **row.fields,
                contract.ID_FIELD: row.id,
                contract.VECTOR_FIELD: contract.encode_vector(vector),
                contract.VERSION_FIELD: reducer.version,
            }
            for row, vector in zip(embedded, reduced)
        ]
        self.index.add(docs)
        summary.indexed += len(docs)
        summary.failed += len(todo) - len(docs)

    def index_rows(self, rows: list[CatalogRow]) -> tuple[list[str], dict[str, str]]:
        """Indexes (or updates) a few products now, with the collection's stored model, through
        the same path as the batch job; returns the ids indexed and the reasons of failures."""
        model = state.require_model(self.index)
        check_model(model, self.index.schema_info(), self.runtime.extractor().name)
        report = io.StringIO()
        summary = IndexSummary()
        self._index_batch(rows, model.reducer, {}, summary, report, skip_indexed=False)
        self.index.commit()
        failures = {r["id"]: r["reason"] for r in map(json.loads, report.getvalue().splitlines())}
        return [r.id for r in rows if r.id not in failures], failures

    def _embed(
        self, rows: list[CatalogRow], cached: dict[str, np.ndarray]
    ) -> tuple[list[np.ndarray | None], dict[str, str]]:
        """Raw 2048-d vectors in row order (None where the image failed) and the reasons."""
        errors: dict[str, str] = {}
        vectors: list[np.ndarray | None] = [cached.pop(r.id, None) for r in rows]
        pending: list[int] = []
        images: list[object] = []
        for i, row in enumerate(rows):
            if vectors[i] is not None:
                continue
            try:
                images.append(_image_source(row.image, self.options.allow_private_urls))
                pending.append(i)
            except FetchError as error:
                errors[row.id] = str(error)
        batch = self.runtime.embed_raw(images, batch_size=self.options.batch_size)
        for position, vector in zip(batch.ok, batch.vectors):
            vectors[pending[position]] = vector
        for position, reason in batch.errors.items():
            errors[rows[pending[position]].id] = reason
        return vectors, errors

    def _model(
        self, catalog: Path, rows: list[CatalogRow], schema: SchemaInfo, summary: IndexSummary
    ) -> tuple[StoredModel, dict[str, np.ndarray]]:
        """The PCA model to use, and the raw vectors of the sample it was fitted on (re-used)."""
        extractor = self.runtime.extractor().name
        if self.options.pca_path is not None:
            model = StoredModel(PCAReducer.load(self.options.pca_path), extractor)
            check_model(model, schema, extractor)
            summary.notes.append(f"PCA model {model.version} loaded from {self.options.pca_path}")
            return state.store_model(self.index, model, replace=True), {}
        if not self.options.refit:
            stored = state.load_model(self.index)
            if stored is not None:
                check_model(stored, schema, extractor)
                return stored, {}
        sample = list(islice((r for r in rows if not r.error), self.options.fit_sample))
        fitted: dict[str, np.ndarray] = {}
        with tqdm(total=len(sample), unit="img", desc="fitting PCA", disable=not self.options.progress) as bar:
            for batch in _batched(sample, self.options.batch_size):
                vectors, _ = self._embed(batch, {})
                fitted.update((row.id, v) for row, v in zip(batch, vectors) if v is not None)
                bar.update(len(batch))
        if len(fitted) < 2:
            raise BadInput(f"{catalog}: fitting the PCA needs at least 2 readable images, got {len(fitted)}")
        reducer = PCAReducer(n_components=schema.dimension).fit(np.stack(list(fitted.values())))
        if reducer.metadata["n_fitted_components"] < schema.dimension:
            summary.notes.append(
                f"the PCA was fitted on {len(fitted)} images, fewer than the {schema.dimension} "
                f"dimensions: {reducer.metadata['n_fitted_components']} components, zero-padded "
                "(distances are unchanged)"
            )
        stored = state.store_model(self.index, StoredModel(reducer, extractor), replace=self.options.refit)
        check_model(stored, schema, extractor)
        return stored, fitted


def _image_source(image: str, allow_private: bool) -> object:
    if image.startswith(("http://", "https://")):
        return fetch_image(image, allow_private=allow_private)
    return image


def _batched(rows: Iterable[CatalogRow], size: int) -> Iterator[list[CatalogRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
