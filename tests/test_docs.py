"""What the docs and the API description claim, checked against the code they describe."""

from __future__ import annotations

import re

import jsonschema
import requests
from openapi_spec_validator import validate

from embedder import errors, options
from embedder.service.openapi import SPEC
from tests.helpers import REPO


def test_the_exit_status_table_is_the_one_the_cli_uses():
    text = (REPO / "docs" / "configuration.md").read_text()
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", text, re.MULTILINE))
    assert {int(code): meaning for code, meaning in rows.items()} == errors.EXIT_CODES


def test_the_architecture_page_names_every_module_and_only_real_ones():
    text = (REPO / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`embedder/([a-z_/]+\.py)`", text)) | {
        f"{module}.py" for module in re.findall(r"`([a-z_]+)\.py`", text)
    }
    modules = {str(p.relative_to(REPO / "embedder")) for p in (REPO / "embedder").glob("*.py")} - {"__init__.py"}
    assert modules - named == set(), "modules the architecture page does not place"
    assert {n for n in named if "/" not in n} - modules == set(), "modules it names that do not exist"


def test_the_openapi_document_is_valid_and_declares_every_search_option_as_the_registry_does():
    validate(SPEC)
    operations = [op for item in SPEC["paths"].values() for m, op in item.items() if m in ("get", "post", "delete")]
    names = [op["operationId"] for op in operations]
    assert len(names) == len(set(names)) and "post_clusters_id_attribute" in names
    declared = SPEC["components"]["schemas"]["SearchRequest"]["properties"]
    for name in options.SEARCH_REQUEST:
        option = options.SEARCH[name]
        assert declared[name] == option.schema(), name
        for bound, value in (("minimum", option.minimum), ("maximum", option.maximum)):
            assert declared[name].get(bound) == value, (name, bound)
    assert {"k", "max_dist", "hybrid", "probe"} <= {n for n, s in declared.items() if s.get("x-page")}


def test_live_answers_match_their_declared_schemas(service_url):
    def check(method: str, path: str, **kwargs) -> None:
        response = requests.request(method, f"{service_url}{path}", timeout=60, **kwargs)
        schema = SPEC["paths"][path][method.lower()]["responses"][str(response.status_code)]
        body_schema = {**schema["content"]["application/json"]["schema"], "components": SPEC["components"]}
        jsonschema.validate(response.json(), body_schema)

    check("GET", "/health")
    check("GET", "/health/live")
    check("GET", "/health/ready")
    check("GET", "/clusters")  # before any clustering: nulls where there is nothing yet
    check("POST", "/search", json={"id": "SKU0001", "k": 3, "probe": 2})
    check("POST", "/search", json={"k": 0})  # an error answers the Error schema
    check("POST", "/recommend", json={"like": ["SKU0001"], "k": 2})
