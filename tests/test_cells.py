"""The approximate mode end to end: ``lookalike cells`` trains cells from the collection, a core
whose vector type declares them is re-indexed, and ``{!visual probe=N}`` searches only the
documents of the probed cells (all cells probed: the exact answer)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np

from embedder import cells, contract
from embedder.artifacts import CONFIGSET
from embedder.client import LookalikeClient, Query
from embedder.solr import SolrIndex
from tests.helpers import all_vectors


def test_cells_train_write_and_serve_probes(demo_index, local_solr, tmp_path):
    out = tmp_path / "cells.bin"
    command = [sys.executable, "-m", "embedder.cli", "--solr", local_solr.url, "cells", str(out), "--count", "6"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    centroids = cells.read(out)
    vectors = all_vectors(demo_index)
    assert centroids.shape == (6, cells.CELL_DIMS)

    configset = tmp_path / "configset"
    shutil.copytree(CONFIGSET, configset)
    schema = configset / "conf" / "schema.xml"
    text, count = re.subn(
        r'(name="image_vector" class="io\.lookalike\.solr\.ImageVectorField" dimension="1024")',
        r'\1 cells="cells.bin"',
        schema.read_text(),
    )
    assert count == 1
    schema.write_text(text)
    shutil.copy(out, configset / "conf" / "cells.bin")
    core = SolrIndex(local_solr.create_core("with_cells", configset))
    core.add([{"id": i, contract.VECTOR_FIELD: contract.encode_vector(v)} for i, v in vectors.items()])
    core.commit()

    client = LookalikeClient(core)
    query = vectors["SKU0002"] + 0.01
    encoded = contract.encode_vector(query)
    exact = [h.id for h in client.run(Query(vector=encoded, k=60)).hits]
    assert [h.id for h in client.run(Query(vector=encoded, k=60, probe=6)).hits] == exact
    one_cell = [h.id for h in client.run(Query(vector=encoded, k=60, probe=1)).hits]
    nearest_cell = np.argmin(((centroids - query[: cells.CELL_DIMS]) ** 2).sum(axis=1))
    members = [
        i
        for i, v in vectors.items()
        if np.argmin(((centroids - v[: cells.CELL_DIMS]) ** 2).sum(axis=1)) == nearest_cell
    ]
    assert sorted(one_cell) == sorted(members) and one_cell == [i for i in exact if i in members]


def test_the_default_cells_file_fits_in_a_zookeeper_node():
    """ZooKeeper refuses a node of 1 MiB or more (jute.maxbuffer): a configset upload would fail."""
    for products in (1_000, 1_000_000, 100_000_000):
        assert cells.file_size(cells.cell_count(products)) < 2**20 - 16 * 1024
    assert cells.cell_count(1_000_000) == cells.MAX_DEFAULT_CELLS
    assert cells.file_size(1024) > 2**20  # what the default was: one cell too many
