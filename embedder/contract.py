"""The contract with the Solr side, owned by solr-config/conf/schema.xml.

Field names, the vector dimension (declared on the schema's field type) and the wire format
of a vector: base64 of little-endian IEEE-754 float32 (docs/vector-format.md). Tests on both
sides check these against the schema and the shared examples in
solr-config/vector-format-examples.json.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np

from embedder.errors import BadInput

ID_FIELD = "id"
VECTOR_FIELD = "image_vector"
VERSION_FIELD = "pca_version"
CLUSTER_FIELD = "cluster_id"
IMAGE_URL_FIELD = "image_url"
# Who owns an attribute is in its name: the catalog's extra columns are `attr_<column>`, what
# merchandisers write (`lookalike tag`, cluster naming) is `tag_<name>`. A sync never writes a
# `tag_` field and a tag never writes an `attr_` one, so neither can hide the other.
CATALOG_ATTRIBUTE_PREFIX = "attr_"
TAG_PREFIX = "tag_"
ATTRIBUTE_PREFIXES = (CATALOG_ATTRIBUTE_PREFIX, TAG_PREFIX)
# Keyword search: the fields a shopper's words are matched in, with edismax boosts (`qf`); the
# schema copies the same fields into `text`.
KEYWORD_BOOSTS = {"title": 3, "description": 1, "brand": 1, "category": 1, "color": 1, "attributes": 1}
KEYWORD_FIELDS = tuple(KEYWORD_BOOSTS)
KIND_FIELD = "kind"
# What the catalog last said of a product (embedder/sync.py)
IMAGE_HASH_FIELD = "image_hash"
CATALOG_HASH_FIELD = "catalog_hash"
CATALOG_FIELDS_FIELD = "catalog_fields"
SYNC_FIELDS = (IMAGE_HASH_FIELD, CATALOG_HASH_FIELD, CATALOG_FIELDS_FIELD)
# A hash of the id, so that `sort=sample_key asc` is a sample unrelated to anything else about the
# products, the same on one node and on any number of shards (embedder/tagging.py's background).
SAMPLE_FIELD = "sample_key"
MODEL_BLOB_FIELD = "model_blob"
MODEL_META_FIELD = "model_meta"
DEFAULT_DIMENSION = 1024
# The name solr-config/ is given as a named configset (the local Solr's launcher, the Docker image):
# what a standalone Solr makes a rebuilt core from (embedder/upgrade.py).
CONFIGSET_NAME = "lookalike"
RAW_DIMENSION = 2048  # InceptionV3 pool_3

_WIRE_DTYPE = np.dtype("<f4")

# The collection's own documents: the only documents with a `kind`, never products. Every id
# with the prefix is reserved (for these and any later ones), so no catalog can collide with them.
RESERVED_ID_PREFIX = "_lookalike_"
MODEL_DOC_ID = RESERVED_ID_PREFIX + "pca_model"
CLUSTERS_DOC_ID = RESERVED_ID_PREFIX + "clusters"
CATALOGS_DOC_ID = RESERVED_ID_PREFIX + "catalogs"  # the directories of the catalogs indexed
OWN_DOCUMENTS = {MODEL_DOC_ID: "model", CLUSTERS_DOC_ID: "clusters", CATALOGS_DOC_ID: "catalogs"}  # id -> kind
# Fields only the indexing job and the collection's own documents write; never a catalog column.
OWNED_FIELDS = frozenset(
    {
        IMAGE_HASH_FIELD,
        CATALOG_HASH_FIELD,
        CATALOG_FIELDS_FIELD,
        VECTOR_FIELD,
        VERSION_FIELD,
        CLUSTER_FIELD,
        KIND_FIELD,
        MODEL_BLOB_FIELD,
        MODEL_META_FIELD,
        IMAGE_URL_FIELD,
        SAMPLE_FIELD,
        "text",
        "_version_",
    }
)


MAX_ID_LENGTH = 512  # characters of a product id, everywhere ids are taken


def sample_key(product_id: str) -> int:
    """The product's ``SAMPLE_FIELD``: 31 bits of the SHA-256 of its id (a non-negative int)."""
    return int.from_bytes(hashlib.sha256(product_id.encode("utf-8")).digest()[:4], "big") >> 1


def is_reserved_id(product_id: str) -> bool:
    return product_id.startswith(RESERVED_ID_PREFIX)


def is_merchandiser_field(name: str) -> bool:
    """Fields merchandisers own (tags and cluster ids): no catalog sync writes or removes them."""
    return name == CLUSTER_FIELD or name.startswith(TAG_PREFIX)


def encode_vector(vector: np.ndarray) -> str:
    """A 1-d float vector as the plugin's base64 little-endian float32 string."""
    array = np.asarray(vector, dtype=np.float64)
    if array.ndim != 1:
        raise BadInput(f"a vector must be 1-d, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise BadInput(f"vector component {bad} is {array[bad]}, not a finite number")
    return base64.b64encode(array.astype(_WIRE_DTYPE).tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    """The inverse of encode_vector: base64 text to a float32 array. The padding is optional, as
    the plugin's parser has it (docs/vector-format.md)."""
    raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    if len(raw) % 4:
        raise BadInput(f"a vector is a multiple of 4 bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype=_WIRE_DTYPE).astype(np.float32)
