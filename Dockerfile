# syntax=docker/dockerfile:1
# The Lookalike embedder: the HTTP sidecar (`lookalike serve`) and the indexing job
# (`lookalike index`), CPU TensorFlow. Used by docker-compose.yml (services embedder, indexer).
#
#   docker build -t lookalike-embedder .
#   docker run -p 8000:8000 -e LOOKALIKE_SOLR_URL=http://solr:8983/solr lookalike-embedder
#
# ImageNet weights are downloaded on first use into the Keras cache, /home/lookalike/.keras:
# mount a volume there so they are downloaded once, not on every new container.
#
# Stage 1 installs the locked dependencies and the project into a virtual environment; stage 2 is
# a fresh python:3.11-slim with that environment alone: no pip cache, no wheel or source, no
# compiler (every package is a binary wheel), so the image is the interpreter plus what the
# project imports (TensorFlow is most of it).
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/lookalike
ENV PATH=/opt/lookalike/bin:$PATH

# The lock first (docker/embedder-constraints.txt, from scripts/pin-embedder-dependencies.py),
# so this layer is rebuilt only when the lock changes, not on every code change.
COPY docker/embedder-constraints.txt /tmp/
RUN pip install --no-cache-dir --only-binary=:all: -r /tmp/embedder-constraints.txt

# The project, installed the way pyproject.toml declares it (entry point `lookalike`, the
# subpackages and the web page as package data) with its `embed` extra, from the locked set
# alone: --no-index makes a requirement the lock lacks fail the build instead of installing
# an unpinned version.
COPY pyproject.toml setup.py README.md /src/
COPY embedder /src/embedder
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheels /src \
 && pip install --no-cache-dir --no-index "$(ls /tmp/wheels/lookalike-*.whl)[embed]" \
 && pip check

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PATH=/opt/lookalike/bin:$PATH
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin lookalike
COPY --from=build /opt/lookalike /opt/lookalike
RUN lookalike --help >/dev/null \
 && python -c "import embedder.service, embedder.cli, embedder.web"

# State of the running process: the Keras cache and the home (LOOKALIKE_HOME: reports, the
# embedding cache, uploads), both volumes in docker-compose.yml; created here so a fresh named
# volume inherits the lookalike user's ownership.
RUN mkdir -p /home/lookalike/.keras/models /home/lookalike/state \
 && chown -R lookalike:lookalike /home/lookalike
ENV LOOKALIKE_HOME=/home/lookalike/state \
    LOOKALIKE_SOLR_URL=http://solr:8983/solr

USER lookalike
WORKDIR /home/lookalike
EXPOSE 8000
ENTRYPOINT ["lookalike"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
