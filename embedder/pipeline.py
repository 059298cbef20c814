"""The indexing job: catalog rows -> InceptionV3 pool_3 -> PCA -> Solr documents.

The pool_3 vectors come from a source (embedder/sources.py): the rows' images, embedded and kept
in an on-disk cache so that an interrupted run loses no embedding, or a vectors file.

A run is a sync (embedder/sync.py): new products are added, changed ones updated (re-embedded
only when their image changed), unchanged ones cost one batched lookup, and with
``delete_missing`` the products the catalog no longer has are deleted. An interrupted run
resumes where it stopped, and nothing is duplicated because documents are keyed by product id.
Every failed, updated and deleted product is listed with its reason in a JSON Lines report.
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

from embedder import contract, fetch, state, sync
from embedder.cache import EmbeddingCache
from embedder.catalog import CatalogRow, Shard, count_rows, read_catalog
from embedder.errors import BadInput, Conflict
from embedder.reduce import PCAReducer
from embedder.runtime import EmbeddingRuntime
from embedder.solr import SchemaInfo, SolrIndex
from embedder.sources import ImageSource, VectorFile
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
    fetch_timeout: float = fetch.TIMEOUT  # seconds for the whole fetch of one image URL
    renames: tuple[tuple[str, str], ...] = ()  # (catalog column, the column it stands for)
    delete_missing: bool = False  # delete this worker's products that the catalog no longer has
    yes: bool = False  # ... even more than DELETE_GUARD of them
    vectors: Path | None = None  # the rows' pool_3 vectors, made elsewhere: nothing is embedded
    cache_dir: Path | None = None  # embeddings kept on disk (embedder/cache.py); None: none kept


DELETE_GUARD = 0.2  # --delete-missing refuses to delete more than this share without --yes
MAX_REPORTS_PER_SECOND = 1000
# Changes the report lists (with failures and deletions); the added are only counted.
CHANGE_REASONS = {
    sync.Change.REEMBEDDED: "its image changed, or it had a vector of another PCA model",
    sync.Change.UPDATED: "its catalog fields changed (not re-embedded)",
}


@dataclass
class IndexSummary:
    """What a run did, counted by change (embedder/sync.py), and where the report is."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    pca_version: str = ""
    report_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def format(self) -> str:
        embedded = self.counts["added"] + self.counts["re-embedded"]
        rate = embedded / self.seconds if self.seconds else 0.0
        counted = ", ".join(f"{name} {count}" for name, count in self.counts.items())
        lines = [
            f"{counted} in {self.seconds:.1f}s ({rate:.1f} images/s)",
            f"PCA model {self.pca_version}; failed, updated and deleted products with reasons: {self.report_path}",
        ]
        return "\n".join(lines + [f"note: {note}" for note in self.notes])


COUNTED = ("added", "re-embedded", "updated", "unchanged", "deleted", "failed")


def new_report(directory: Path, stamp: str | None = None) -> Path:
    """A report file of this run's own, ``index-STAMP.jsonl`` (STAMP: the time to the second),
    else ``index-STAMP-2.jsonl``, ...: created exclusively, so two runs started in the same
    second never write into one file."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(1, MAX_REPORTS_PER_SECOND + 1):
        path = directory / f"index-{stamp}{'' if number == 1 else f'-{number}'}.jsonl"
        try:
            path.touch(exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise BadInput(f"{directory}: {MAX_REPORTS_PER_SECOND} reports of {stamp} already; pass --report FILE")


class Indexer:
    """Runs the indexing job for one catalog against one collection."""

    def __init__(self, index: SolrIndex, runtime: EmbeddingRuntime, options: IndexOptions) -> None:
        self.index = index
        self.runtime = runtime
        self.options = options
        self.source: ImageSource | VectorFile = self._images(None)
        self.listed: set[str] = set()

    def _images(self, cache: EmbeddingCache | None) -> ImageSource:
        options = self.options
        return ImageSource(self.runtime, cache, options.batch_size, options.allow_private_urls, options.fetch_timeout)

    def run(self, catalog: Path) -> IndexSummary:
        started = time.monotonic()
        schema = self.index.schema_info()
        summary = IndexSummary(report_path=self.options.report_path)
        if self.options.vectors is not None:
            self.source = VectorFile(self.options.vectors, count_rows(catalog))
        elif self.options.cache_dir is not None:
            self.source = self._images(EmbeddingCache(self.options.cache_dir, self.runtime.extractor_name()))
        rows = list(
            read_catalog(
                catalog,
                schema,
                self.options.shard,
                dict(self.options.renames),
                image_required=self.options.vectors is None,
            )
        )  # read once
        self.listed = {row.id for row in rows if row.id}  # the catalog's products, failed or not
        missing = self._missing(rows) if self.options.delete_missing else []  # may refuse: before any write
        if any(row.image and not row.image.startswith(("http://", "https://")) for row in rows):
            state.record_catalog_directory(self.index, Path(catalog).resolve().parent)  # images served from there
        model, cached = self._model(catalog, rows, schema, summary)
        reducer = model.reducer
        summary.pca_version = reducer.version
        self.options.report_path.parent.mkdir(parents=True, exist_ok=True)
        with (
            open(self.options.report_path, "w", encoding="utf-8") as report,
            tqdm(total=len(rows), unit="img", desc="indexing", disable=not self.options.progress) as progress,
        ):
            for batch in _batched(rows, self.options.batch_size):
                self._index_batch(batch, reducer, cached, summary, report)
                progress.update(len(batch))
            for start in range(0, len(missing), 1000):
                self.index.delete(missing[start : start + 1000])
            for product_id in missing:
                report.write(json.dumps({"id": product_id, "status": "deleted", "reason": "not in the catalog"}) + "\n")
            summary.counts["deleted"] = len(missing)
        self.index.commit()
        summary.seconds = time.monotonic() - started
        log.debug("index %s: %s", catalog, summary.format().replace("\n", "; "))  # the CLI prints it
        return summary

    def _missing(self, rows: list[CatalogRow]) -> list[str]:
        """This worker's products that the catalog no longer has; refuses to delete more than
        DELETE_GUARD of them unless told to (a truncated catalog would empty the collection)."""
        listed = {row.id for row in rows}
        stored = [doc[contract.ID_FIELD] for doc in self.index.stream(contract.ID_FIELD)]
        mine = [i for i in stored if self.options.shard.owns(i)]
        missing = sorted(i for i in mine if i not in listed)
        if len(missing) > DELETE_GUARD * max(len(mine), 1) and not self.options.yes:
            raise BadInput(
                f"--delete-missing would delete {len(missing)} of {len(mine)} products, more than "
                f"{DELETE_GUARD:.0%}: is the catalog complete? Pass --yes to delete them; nothing was changed"
            )
        return missing

    def _index_batch(
        self,
        batch: list[CatalogRow],
        reducer: PCAReducer,
        cached: dict[str, np.ndarray],
        summary: IndexSummary,
        report: TextIO,
        partial: bool = False,
    ) -> list[str]:
        """Syncs one batch (``partial``: rows of only the fields to change); returns the ids of
        the rows that failed."""

        def note(row: CatalogRow, status: str, reason: str) -> None:
            report.write(json.dumps({"id": row.id, "line": row.line, "status": status, "reason": reason}) + "\n")

        failed = {row.id: row.error for row in batch if row.error}
        good = [row for row in batch if not row.error]
        stored = self.index.get([r.id for r in good], fl=sync.REMEMBERED)
        plans, unreadable = sync.plan(good, stored, reducer.version, self.source.identity, partial)
        failed |= unreadable
        embed = [p for p in plans if p.needs_vector]
        vectors, errors = self._embed([p.row for p in embed], cached)
        failed |= errors
        embedded = [(p, v) for p, v in zip(embed, vectors) if v is not None]
        reduced = reducer.transform(np.stack([v for _, v in embedded])) if embedded else []
        documents = {p.row.id: p.document(reducer.version, vector) for (p, _), vector in zip(embedded, reduced)}
        documents |= {p.row.id: p.document(reducer.version) for p in plans if p.change is sync.Change.UPDATED}
        failed |= self.index.add_each(list(documents.values()))
        for row in batch:
            if row.error or row.id in failed:
                note(row, "failed", row.error or failed[row.id])
                summary.counts["failed"] += 1
        for p in plans:
            if p.row.id not in failed:
                summary.counts[p.change.value] += 1
                if p.change in CHANGE_REASONS:
                    note(p.row, p.change.value, CHANGE_REASONS[p.change])
        return list(failed)

    def index_rows(self, rows: list[CatalogRow]) -> tuple[list[str], dict[str, str]]:
        """Indexes (or updates) a few products now, with the collection's stored model, through
        the same path as the batch job; an existing product keeps the catalog fields a row leaves
        out. Returns the ids indexed and the reasons of failures."""
        model = state.require_model(self.index)
        check_model(model, self.index.schema_info(), self.runtime.extractor_name())
        report = io.StringIO()
        failed = self._index_batch(rows, model.reducer, {}, IndexSummary(), report, partial=True)
        self.index.commit()
        reasons = {r["id"]: r["reason"] for r in map(json.loads, report.getvalue().splitlines()) if r["id"] in failed}
        return [r.id for r in rows if r.id not in reasons], reasons

    def _embed(
        self, rows: list[CatalogRow], cached: dict[str, np.ndarray]
    ) -> tuple[list[np.ndarray | None], dict[str, str]]:
        """Raw 2048-d vectors in row order (None where the source failed) and the reasons; the
        vectors of the PCA's fit sample are taken from ``cached``, not asked for again."""
        vectors: list[np.ndarray | None] = [cached.pop(r.id, None) for r in rows]
        pending = [i for i, v in enumerate(vectors) if v is None]
        fresh, errors = self.source.vectors([rows[i] for i in pending])
        for i, vector in zip(pending, fresh):
            vectors[i] = vector
        return vectors, errors

    def _model(
        self, catalog: Path, rows: list[CatalogRow], schema: SchemaInfo, summary: IndexSummary
    ) -> tuple[StoredModel, dict[str, np.ndarray]]:
        """The PCA model to use, and the raw vectors of the sample it was fitted on (re-used)."""
        extractor = self.runtime.extractor_name()
        if self.options.pca_path is not None:
            model = StoredModel(PCAReducer.load(self.options.pca_path), extractor)
            check_model(model, schema, extractor)
            if state.model_version(self.index) not in (None, model.version):
                self._refuse_mixing()
            summary.notes.append(f"PCA model {model.version} loaded from {self.options.pca_path}")
            return state.store_model(self.index, model, replace=True), {}
        if not self.options.refit:
            stored = state.load_model(self.index)
            if stored is not None:
                check_model(stored, schema, extractor)
                return stored, {}
        else:
            self._refuse_mixing()
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

    def _refuse_mixing(self) -> None:
        """A new model is written here only while no product holds a vector of the old one."""
        if self.index.count():
            raise Conflict(
                f"a new PCA model on {self.index.url}, which has products, would leave vectors of two "
                "models in it: embedder.upgrade.index_catalog (`lookalike index --refit`) builds it "
                "beside the collection and switches"
            )


def _batched(rows: Iterable[CatalogRow], size: int) -> Iterator[list[CatalogRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
