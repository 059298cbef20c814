# Lookalike: `make demo` runs the product end to end; `make test` runs every test.
VENV   ?= .venv
PY     := $(VENV)/bin/python
MVN    ?= mvn -B -ntp
SIZE   ?= small

.PHONY: demo test lint test-java test-java-others test-python plugin system clean bench attribute-report

demo: $(VENV)/.installed plugin
	$(VENV)/bin/lookalike demo

test: test-java test-python

# The formatter owns the layout; the linter checks imports, names and common bugs (pyproject.toml).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check embedder bench tests
	$(VENV)/bin/ruff check embedder bench tests

test-java: system
	$(MVN) -f solr-plugin/pom.xml verify

# The plugin suite on the other supported Solr versions (the newest is test-java's), each built
# beside target/.
SOLR_OTHERS ?= 9.8.1 9.9.0
test-java-others: system
	for version in $(SOLR_OTHERS); do \
	  $(MVN) -f solr-plugin/pom.xml -pl plugin -Dsolr.version=$$version -Dbuild.dir=target/solr-$$version verify || exit 1; \
	done

test-python: $(VENV)/.installed plugin
	$(PY) -m pytest

# The Solr plugin and the launcher jars (rebuilt only when a source is newer than a jar).
plugin: $(VENV)/.installed
	$(PY) -c "from embedder.artifacts import build; build()"

$(VENV)/.installed: pyproject.toml | system
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[embed,test,bench]'
	touch $@

# JDK 17 and Maven from Debian when the machine lacks them.
system:
	@scripts/setup-system.sh

clean:
	rm -rf $(VENV) solr-plugin/*/target

# The benchmark (bench/REPORT.md): SIZE=small (minutes), medium (100k, 300k), large (up to 1M).
bench: $(VENV)/.installed plugin
	$(PY) -m bench --size $(SIZE)

# docs/attribute-filling.md: precision of tagging from 1 to 10 examples, centroid vs learned, in each
# normalization of the PCA, before and after a review, on ../shared's real vectors (about a minute).
attribute-report: $(VENV)/.installed
	$(PY) -m embedder.fillreport ../shared/datasets/inception-pool3-styles docs/attribute-filling.md
