"""The contract with the Solr side, owned by solr-config/conf/schema.xml.

Field names, the vector dimension (declared on the schema's field type) and the wire format
of a vector: base64 of little-endian IEEE-754 float32 (docs/vector-format.md). Tests on both
sides check these against the schema and the shared examples in
solr-config/vector-format-examples.json.
"""
from __future__ import annotations

import base64

import numpy as np

ID_FIELD = "id"
VECTOR_FIELD = "image_vector"
VERSION_FIELD = "pca_version"
CLUSTER_FIELD = "cluster_id"
IMAGE_URL_FIELD = "image_url"
KIND_FIELD = "kind"
MODEL_BLOB_FIELD = "model_blob"
MODEL_META_FIELD = "model_meta"
MODEL_KIND = "model"
DEFAULT_DIMENSION = 1024
RAW_DIMENSION = 2048  # InceptionV3 pool_3

_WIRE_DTYPE = np.dtype("<f4")


def encode_vector(vector: np.ndarray) -> str:
    """A 1-d float vector as the plugin's base64 little-endian float32 string."""
    array = np.asarray(vector, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"a vector must be 1-d, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"vector component {bad} is {array[bad]}, not a finite number")
    return base64.b64encode(array.astype(_WIRE_DTYPE).tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    """The inverse of encode_vector: base64 text to a float32 array."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) % 4:
        raise ValueError(f"a vector is a multiple of 4 bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype=_WIRE_DTYPE).astype(np.float32)
