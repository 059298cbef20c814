"""Model upgrades without mixing: ``lookalike index CATALOG --refit`` (or ``--pca`` with another
model) on a collection that has products.

A new PCA model means new vectors for every product, and a collection holding vectors of two
models answers meaningless distances. So an upgrade never writes into the live collection. It
builds the new model and its vectors into a new one beside it, while queries keep using the old
one, and then switches in one step:

- standalone Solr: a new core ``<name>__rebuild`` (in a directory of its own) from a named
  configset, then Solr's core ``SWAP`` (``<name>`` now serves the new index), and the old core is
  unloaded and deleted;
- SolrCloud, where ``<name>`` is an alias: a new collection ``<name>_<time>`` with the old one's
  configset, shards and replicas; the alias moves to it and the old collection is deleted. A
  plain collection has no alias to move, so the upgrade refuses before doing anything.

Before the switch, what merchandisers wrote (``tag_*``, ``cluster_id``: ``contract``) is copied
over, and a product whose row failed this time is copied without a vector, so the next sync
embeds it. The clustering is not copied: its centroids belong to the old model.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from pathlib import Path

from embedder import contract, state
from embedder.errors import BadInput, LookalikeError
from embedder.pipeline import DELETE_GUARD, Indexer, IndexOptions, IndexSummary
from embedder.reduce import PCAReducer
from embedder.runtime import EmbeddingRuntime
from embedder.solr import SolrIndex

REBUILD_SUFFIX = "__rebuild"
# What a product keeps only because the model made it: never copied into the new collection.
MODEL_FIELDS = (contract.VECTOR_FIELD, contract.VERSION_FIELD, contract.IMAGE_HASH_FIELD, "_version_")


def needs_rebuild(live: SolrIndex, options: IndexOptions) -> bool:
    """Whether this run would change the model of a collection that has products."""
    if not (options.refit or options.pca_path) or live.count() == 0:
        return False
    stored = state.model_version(live)
    return options.refit or stored != PCAReducer.load(options.pca_path).version


class CoreSwap:
    """A standalone Solr: the new index is a core of its own until SWAP gives it the name."""

    def __init__(self, live: SolrIndex, configset: str) -> None:
        self.live, self.configset = live, configset
        self.new = SolrIndex(f"{live.url}{REBUILD_SUFFIX}", live.timeout)
        self.how = "core swap"

    def create(self) -> SolrIndex:
        if self.live.admin("cores", action="STATUS", core=self.new.name)["status"].get(self.new.name):
            self.discard()  # left by an interrupted upgrade: its vectors are cached anyway
        try:
            # SWAP exchanges names, not directories: each build gets a directory of its own.
            directory = f"{self.live.name}_{uuid.uuid4().hex[:12]}"
            self.live.admin(
                "cores", action="CREATE", name=self.new.name, instanceDir=directory, configSet=self.configset
            )
        except LookalikeError as error:
            raise BadInput(
                f"cannot create the core {self.new.name} from the configset {self.configset!r} of this "
                f"Solr's configsets directory ({error}); pass --configset NAME"
            ) from None
        return self.new

    def switch(self) -> None:
        self.live.admin("cores", action="SWAP", core=self.live.name, other=self.new.name)
        self.discard()  # the old index, under the rebuild's name now

    def discard(self) -> None:
        self.live.admin(
            "cores",
            action="UNLOAD",
            core=self.new.name,
            deleteIndex="true",
            deleteDataDir="true",
            deleteInstanceDir="true",
        )


class AliasSwitch:
    """SolrCloud: the new index is a collection of its own until the alias moves to it."""

    def __init__(self, live: SolrIndex) -> None:
        cluster = live.admin("collections", action="CLUSTERSTATUS")["cluster"]
        self.live = live
        self.old = cluster.get("aliases", {}).get(live.name)
        if self.old is None:
            raise BadInput(
                f"{live.name} is a SolrCloud collection, not an alias, so an upgrade has nothing to "
                f"switch: create the collection under another name with an alias {live.name} to it "
                "(docs/deployment.md); nothing was changed"
            )
        layout = cluster["collections"][self.old]
        self.shape = {
            "collection.configName": layout["configName"],
            "numShards": len(layout["shards"]),
            "replicationFactor": len(next(iter(layout["shards"].values()))["replicas"]),
        }
        self.new = SolrIndex(f"{live.solr_url}/{live.name}_{time.strftime('%Y%m%d%H%M%S')}", live.timeout)
        self.how = "alias switch"

    def create(self) -> SolrIndex:
        self.live.admin("collections", action="CREATE", name=self.new.name, **self.shape)
        return self.new

    def switch(self) -> None:
        self.live.admin("collections", action="CREATEALIAS", name=self.live.name, collections=self.new.name)
        self.live.admin("collections", action="DELETE", name=self.old)

    def discard(self) -> None:
        self.live.admin("collections", action="DELETE", name=self.new.name)


def index_catalog(
    index: SolrIndex,
    runtime: EmbeddingRuntime,
    options: IndexOptions,
    catalog: Path,
    configset: str = contract.CONFIGSET_NAME,
) -> IndexSummary:
    """The indexing job; a model change on a collection that has products is rebuilt beside it."""
    if needs_rebuild(index, options):
        return rebuild(index, runtime, options, catalog, configset)
    return Indexer(index, runtime, options).run(catalog)


def rebuild(
    live: SolrIndex, runtime: EmbeddingRuntime, options: IndexOptions, catalog: Path, configset: str
) -> IndexSummary:
    """Builds the catalog with a new model beside ``live``, copies the merchandisers' work over,
    and switches; ``live`` is untouched when anything fails before the switch."""
    if options.shard.count > 1:
        raise BadInput("an upgrade rebuilds the whole collection: run it as one worker, without --shard")
    cloud = live.admin("info/system").get("mode") == "solrcloud"
    target = AliasSwitch(live) if cloud else CoreSwap(live, configset)
    new = target.create()
    try:
        indexer = Indexer(new, runtime, replace(options, refit=False, delete_missing=False))
        summary = indexer.run(catalog)
        stored = [doc[contract.ID_FIELD] for doc in live.stream(contract.ID_FIELD)]
        dropped = sorted(set(stored) - indexer.listed)
        if len(dropped) > DELETE_GUARD * max(len(stored), 1) and not options.yes:
            raise BadInput(
                f"the upgrade would drop {len(dropped)} of {len(stored)} products that the catalog no "
                f"longer has, more than {DELETE_GUARD:.0%}: is the catalog complete? Pass --yes to drop "
                f"them; nothing was changed"
            )
        carried, kept = _carry(live, new, indexer.listed)
        new.commit()
    except BaseException:  # Ctrl-C included: the live collection stays as it was
        target.discard()
        raise
    target.switch()
    with open(options.report_path, "a", encoding="utf-8") as report:
        for product_id in dropped:
            report.write(json.dumps({"id": product_id, "status": "deleted", "reason": "not in the catalog"}) + "\n")
    summary.counts["deleted"] = len(dropped)
    summary.notes.append(
        f"{live.name} now serves PCA model {summary.pca_version} ({target.how}); the tags and cluster ids "
        f"of {carried} products were carried over, {kept} products whose row failed were kept without a "
        "vector; run `lookalike cluster` again, the clustering belonged to the old model"
    )
    return summary


def _carry(live: SolrIndex, new: SolrIndex, listed: set[str]) -> tuple[int, int]:
    """Copies merchandiser fields into the new collection; returns (products carried, products
    kept without a vector because their row failed in the new build)."""
    carried = kept = 0
    page: list[dict] = []
    for doc in live.stream(f"{contract.ID_FIELD},{contract.CLUSTER_FIELD},{contract.TAG_PREFIX}*"):
        if doc[contract.ID_FIELD] in listed:
            page.append(doc)
        if len(page) == 1000:
            carried, kept = _carry_page(live, new, page, carried, kept)
            page = []
    return _carry_page(live, new, page, carried, kept)


def _carry_page(live: SolrIndex, new: SolrIndex, page: list[dict], carried: int, kept: int) -> tuple[int, int]:
    present = new.get([d[contract.ID_FIELD] for d in page], fl=contract.ID_FIELD)
    failed = [d[contract.ID_FIELD] for d in page if d[contract.ID_FIELD] not in present]
    # _version_ 1: update only what the new build wrote, never create a product.
    updates = [
        {contract.ID_FIELD: d[contract.ID_FIELD], "_version_": 1}
        | {name: {"set": value} for name, value in d.items() if contract.is_merchandiser_field(name)}
        for d in page
        if d[contract.ID_FIELD] in present and len(d) > 1
    ]
    new.add(updates)
    whole = live.get(failed).values()
    new.add({name: value for name, value in doc.items() if name not in MODEL_FIELDS} for doc in whole)
    return carried + len(updates), kept + len(failed)
