"""Every package the code imports is declared in pyproject.toml: in the base dependencies, or in
the extra that the importing module needs as the docs and the Makefile say (Keras and TensorFlow
under `embed`, the suite's tools under `test`, the benchmark's under `bench`)."""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import REPO

FIRST_PARTY = {"embedder", "bench", "tests"}
TREES = ("embedder", "tests", "bench", "scripts")
# The extras a module may import from beyond the base, the most specific path first: only the
# model embeds images (the base install runs the rest without TensorFlow); the suite, the
# benchmark and the pinning script run in `make`'s environment, `.[embed,test,bench]`.
EXTRAS = {
    "embedder/model.py": {"embed"},
    "embedder": set(),
    "tests": {"test", "embed"},
    "bench": {"bench", "embed"},
    "scripts": {"test"},
}


@cache
def declared() -> dict[str, frozenset[str]]:
    """Canonical distribution names by group, "base" and each extra (markers ignored: either
    TensorFlow of `embed` counts)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"base": project["dependencies"], **project["optional-dependencies"]}
    return {group: frozenset(canonicalize_name(Requirement(r).name) for r in texts) for group, texts in groups.items()}


@cache
def distributions_of() -> dict[str, list[str]]:
    """Import name -> the installed distributions providing it (slow: read once)."""
    return packages_distributions()


def imported(module: Path) -> set[str]:
    """The top-level names of a module's absolute imports, those inside functions too (the lazy
    imports are the ones an extra provides)."""
    names = set()
    for node in ast.walk(ast.parse(module.read_text(), filename=str(module))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - FIRST_PARTY


def undeclared(relative: str, names: set[str]) -> list[str]:
    """Those of ``names`` that module ``relative`` imports from no distribution it may use."""
    tree = next(key for key in EXTRAS if relative == key or relative.startswith(key + "/"))
    allowed = declared()["base"].union(*(declared()[extra] for extra in EXTRAS[tree]))
    providers = distributions_of()
    found = []
    for name in sorted(names):
        distributions = {canonicalize_name(d) for d in providers.get(name, [])}
        assert distributions, f"{relative} imports {name}, which no installed distribution provides"
        if not distributions & allowed:
            found.append(f"{relative}: {name} ({', '.join(sorted(distributions))})")
    return found


def test_every_imported_package_is_declared_for_the_module_that_imports_it():
    modules = [p for tree in TREES for p in sorted((REPO / tree).rglob("*.py"))]
    every = {module: imported(module) for module in modules}
    missing = [
        line for module, names in every.items() for line in undeclared(module.relative_to(REPO).as_posix(), names)
    ]
    assert missing == [], "imports that pyproject.toml does not declare for these modules"
    seen = set().union(*every.values())
    assert {"keras", "sklearn", "PIL", "urllib3", "threadpoolctl", "packaging", "yaml", "faiss"} <= seen


def test_an_extras_package_counts_only_where_that_extra_is_needed():
    assert undeclared("embedder/model.py", {"keras"}) == []
    assert undeclared("embedder/cli.py", {"keras"}) == ["embedder/cli.py: keras (keras)"]  # base: no TensorFlow
    assert undeclared("embedder/solr.py", {"yaml", "requests"}) == ["embedder/solr.py: yaml (pyyaml)"]
    assert undeclared("tests/test_deployment.py", {"yaml", "packaging"}) == []
    assert undeclared("tests/test_web.py", {"faiss"}) == ["tests/test_web.py: faiss (faiss-cpu)"]
