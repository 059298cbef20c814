"""The cross-language contract, owned by solr-config/conf/schema.xml: field names, the vector
dimension and the wire format. ContractTest.java checks the same on the Java side."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from embedder import contract
from tests.helpers import REPO

CONFIGSET = REPO / "solr-config"


def _schema():
    root = ET.parse(CONFIGSET / "conf" / "schema.xml").getroot()
    fields = {f.get("name"): f for f in root.iter("field")}
    types = {t.get("name"): t for t in root.iter("fieldType")}
    return root, fields, types


def test_schema_declares_the_vector_field_and_its_dimension():
    root, fields, types = _schema()
    assert root.findtext("uniqueKey") == contract.ID_FIELD
    vector_type = types[fields[contract.VECTOR_FIELD].get("type")]
    assert vector_type.get("class") == "io.lookalike.solr.ImageVectorField"
    assert int(vector_type.get("dimension")) == contract.DEFAULT_DIMENSION


def test_schema_has_every_field_the_embedder_writes():
    _, fields, _ = _schema()
    for name in (
        contract.ID_FIELD,
        contract.VERSION_FIELD,
        contract.CLUSTER_FIELD,
        contract.IMAGE_URL_FIELD,
        contract.KIND_FIELD,
        contract.MODEL_BLOB_FIELD,
        contract.MODEL_META_FIELD,
        contract.IMAGE_HASH_FIELD,
        contract.CATALOG_HASH_FIELD,
        contract.CATALOG_FIELDS_FIELD,
        contract.SAMPLE_FIELD,
    ):
        assert name in fields, name


@pytest.mark.parametrize("example", json.loads((CONFIGSET / "vector-format-examples.json").read_text())["examples"])
def test_wire_format_matches_the_shared_examples(example):
    assert contract.encode_vector(np.array(example["floats"])) == example["base64"]
    decoded = contract.decode_vector(example["base64"])
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, np.array(example["floats"], dtype=np.float32))
    unpadded = contract.decode_vector(example["base64"].rstrip("="))  # optional, as in the plugin
    np.testing.assert_array_equal(unpadded, decoded)


@pytest.mark.parametrize("bad", ["AACAPwA", "AACAP!==", "AACAPw==\n"])
def test_decoding_refuses_what_the_plugin_refuses(bad):
    with pytest.raises(ValueError):  # binascii.Error, or not a whole number of floats
        contract.decode_vector(bad)


@pytest.mark.parametrize("bad", [[1.0, float("nan")], [float("inf")], [[1.0, 2.0]]])
def test_encoding_refuses_what_solr_would_refuse(bad):
    with pytest.raises(ValueError):
        contract.encode_vector(np.array(bad))


def test_live_collection_follows_the_contract(index):
    schema = index.schema_info()
    assert schema.dimension == contract.DEFAULT_DIMENSION
    assert {contract.VECTOR_FIELD, contract.VERSION_FIELD, contract.CLUSTER_FIELD} <= schema.fields


def test_the_keyword_fields_are_the_ones_the_schema_copies_into_text():
    root, _, _ = _schema()
    copied = {c.get("source") for c in root.iter("copyField") if c.get("dest") == "text"}
    assert copied == set(contract.KEYWORD_FIELDS)
