"""What the docs and the API description claim, checked against the code they describe."""

from __future__ import annotations

import base64
import re

import jsonschema
import requests
from openapi_spec_validator import validate

from embedder import errors, options
from embedder.samples import query_image
from embedder.service.openapi import ERRORS, SPEC
from tests.helpers import REPO, jpeg


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


def test_the_service_page_lists_every_error_status_the_api_declares():
    text = (REPO / "docs" / "service.md").read_text()
    section = text.split("\n## Errors\n")[1].split("\n## ")[0]
    assert set(re.findall(r"(?:^- |, )(\d{3}) ", section, re.MULTILINE)) == set(ERRORS)
    unavailable = next(item for item in section.split("\n- ") if item.startswith("503 "))
    assert "Retry-After" in unavailable and "`embed` extra" in unavailable  # both causes of a 503


def test_the_readme_installs_from_the_checkout_or_a_built_wheel_not_from_pypi():
    installs = re.findall(r"""^pip install ('[^']*'|"[^"]*"|\S+)""", (REPO / "README.md").read_text(), re.MULTILINE)
    assert len(installs) >= 3 and all(arg.strip("'\"").startswith((".", "$(ls dist/")) for arg in installs), installs


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


def test_every_operation_answers_live_as_its_schema_declares(service_url):
    """One live request or more for each operation of the document (the list comes from the
    document itself), each answer validated against the schema declared for its status, and each
    successful JSON request against the declared request body."""
    declared = {(m, p) for p, item in SPEC["paths"].items() for m in item if m in ("get", "post", "delete")}
    exercised = set()

    def check(method: str, template: str, path: str | None = None, **kwargs) -> requests.Response:
        response = requests.request(method, f"{service_url}{path or template}", timeout=120, **kwargs)
        operation = SPEC["paths"][template][method.lower()]
        answer = operation["responses"].get(str(response.status_code))
        assert answer is not None, f"{method} {template} answered an undeclared {response.status_code}"
        if "content" in answer:
            jsonschema.validate(response.json(), _resolvable(answer["content"]["application/json"]["schema"]))
        if response.ok and "json" in kwargs:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            jsonschema.validate(kwargs["json"], _resolvable(body))
        exercised.add((method.lower(), template))
        return response

    for path in ("/health", "/health/live", "/health/ready", "/labels"):
        assert check("GET", path).status_code == 200, path
    assert check("GET", "/clusters").json()["created_at"] is None  # before any clustering: nulls
    assert check("POST", "/search", json={"id": "SKU0001", "k": 3, "facets": ["color"]}).status_code == 200
    assert check("POST", "/search", json={"k": 0}).status_code == 400  # an error answers the Error schema
    assert check("POST", "/recommend", json={"like": ["SKU0001"], "k": 2}).status_code == 200
    image = jpeg(query_image("dress", "blue", "dotted"))
    assert check("POST", "/embed", files={"image": ("q.jpg", image, "image/jpeg")}).status_code == 200
    assert check("POST", "/embed", json={}).status_code == 400

    assert check("GET", "/products/{id}", "/products/SKU0001").json()["id"] == "SKU0001"
    assert check("GET", "/products/{id}", "/products/NOPE").status_code == 404
    served = check("GET", "/products/{id}/image", "/products/SKU0001/image")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert check("GET", "/products/{id}/image", "/products/NOPE/image").status_code == 404
    new = {"id": "NEW1", "image_base64": base64.b64encode(image).decode(), "title": "a blue dress"}
    assert check("POST", "/products", json={"products": [new]}).json()["indexed"] == ["NEW1"]
    assert check("DELETE", "/products/{id}", "/products/NEW1").json() == {"deleted": "NEW1"}
    assert check("DELETE", "/products/{id}", "/products/NEW1").status_code == 404

    tag = {"attribute": "look", "value": "loud"}
    preview = check("POST", "/tag/preview", json={**tag, "example_ids": ["SKU0002", "SKU0005"], "k": 2})
    ids = [c["id"] for c in preview.json()["candidates"]]
    assert check("POST", "/tag/apply", json={**tag, "ids": ids}).json()["tagged"] == len(ids)
    assert check("POST", "/tag/remove", json={**tag, "all": True}).json()["removed"] == len(ids)
    assert check("POST", "/tag/apply", json={**tag, "ids": ["NOPE"]}).status_code == 404

    clusters = check("POST", "/clusters", json={"k": 3}).json()["clusters"]
    assert len(clusters) == 3 and check("GET", "/clusters").json()["clusters"] == clusters
    members = f"/clusters/{clusters[0]['id']}/members"
    assert check("GET", "/clusters/{id}/members", members, params={"k": 2}).json()["total"] == clusters[0]["size"]
    assert check("GET", "/clusters/{id}/members", "/clusters/999/members").status_code == 404
    named = check("POST", "/clusters/{id}/attribute", f"/clusters/{clusters[0]['id']}/attribute", json=tag)
    assert named.json()["tagged"] == clusters[0]["size"]

    start = check("POST", "/navigate/start", json={"size": 3}).json()
    step = check("POST", "/navigate/step", json={"session": start["session"], "choose": start["gallery"][0]["id"]})
    assert step.status_code == 200 and step.json()["session"] == start["session"]
    assert check("POST", "/navigate/step", json={"session": "nope", "choose": "SKU0001"}).status_code == 404

    assert exercised == declared, f"operations never exercised: {sorted(declared - exercised)}"


def _resolvable(schema: dict) -> dict:
    """A schema of the document with its components beside it, so that its $refs resolve."""
    return {**schema, "components": SPEC["components"]}
