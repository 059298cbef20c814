"""Bundles the Solr side into the wheel (embedder/bundled/: the configset, the plugin and launcher
jars, the Maven coordinates of Solr's jars), so that an installed `lookalike solr start` works
outside the checkout. A tree without solr-plugin/ (the sidecar's Docker build) bundles nothing.
Everything else is declared in pyproject.toml."""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithSolr(build_py):
    def run(self):
        super().run()
        here = Path(__file__).resolve().parent
        # An editable install runs from the checkout, where the jars are built on demand.
        if not self.editable_mode and (here / "solr-plugin" / "pom.xml").is_file():
            sys.path.insert(0, str(here))
            from embedder.artifacts import bundle

            bundle(Path(self.build_lib) / "embedder" / "bundled")


setup(cmdclass={"build_py": BuildWithSolr})
