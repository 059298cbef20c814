#!/usr/bin/env python3
"""Writes docker/embedder-constraints.txt, the lock of the embedder image (Dockerfile): every
distribution that the project's runtime requirements (pyproject's dependencies and its `embed`
extra; not `test` or `bench`) need, at the version installed in the environment running this
script, which must be Linux x86_64 with the image's Python (3.11), as the image is.

    .venv/bin/python scripts/pin-embedder-dependencies.py     # after `make .venv/.installed`
"""

from __future__ import annotations

import platform
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "docker" / "embedder-constraints.txt"
HEADER = """\
# The embedder image's Python packages (Dockerfile), for linux/amd64 and Python 3.11: what
# pyproject.toml's dependencies and its `embed` extra need, pinned. Written by
# scripts/pin-embedder-dependencies.py from an installed environment; do not edit by hand.
"""


def runtime_requirements(pyproject: Path) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    declared = project["dependencies"] + project.get("optional-dependencies", {}).get("embed", [])
    return [Requirement(text) for text in declared]


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """Installed name -> version of every distribution these requirements need here."""
    pinned: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()  # a distribution is visited again for new extras
    pending = [(r, "") for r in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        distribution = metadata.distribution(requirement.name)
        pinned[name] = distribution.version
        for text in distribution.requires or []:
            for wanted in ["", *requirement.extras]:
                pending.append((Requirement(text), wanted))
    return pinned


def main() -> None:
    if (platform.system(), platform.machine(), sys.version_info[:2]) != ("Linux", "x86_64", (3, 11)):
        sys.exit("run this with Python 3.11 on Linux x86_64, the platform of the image")
    pins = closure(runtime_requirements(REPO / "pyproject.toml"))
    pins.pop("lookalike", None)
    LOCK.write_text(HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    print(f"{LOCK.relative_to(REPO)}: {len(pins)} packages")


if __name__ == "__main__":
    main()
