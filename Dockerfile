# syntax=docker/dockerfile:1
# The Lookalike embedder: the HTTP sidecar (`lookalike serve`) and the indexing job
# (`lookalike index`), CPU TensorFlow. Used by docker-compose.yml (services embedder, indexer).
#
#   docker build -t lookalike-embedder .
#   docker run -p 8000:8000 -e LOOKALIKE_SOLR_URL=http://solr:8983/solr lookalike-embedder
#
# ImageNet weights are downloaded on first use into the Keras cache, /home/lookalike/.keras:
# mount a volume there so they are downloaded once, not on every new container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin lookalike
WORKDIR /app

# Dependencies first, from pyproject.toml itself (TensorFlow is most of the image): this layer is
# rebuilt only when pyproject.toml changes, not on every code or README change. Placeholders for
# the package and pyproject's readme let pip resolve the project; the real files replace them.
COPY pyproject.toml setup.py ./
RUN mkdir embedder && echo '__version__ = "0"' > embedder/__init__.py && touch README.md \
 && pip install '.[embed]' \
 && pip uninstall -y lookalike \
 && rm -rf embedder README.md build *.egg-info

# The project, installed the way pyproject.toml declares it (entry point `lookalike`, the
# subpackages and the web page as package data).
COPY README.md ./
COPY embedder ./embedder
RUN pip install --no-deps . \
 && rm -rf build \
 && lookalike --help >/dev/null \
 && python -c "import embedder.service, embedder.cli, embedder.web"

# State of the running process: the Keras cache (a volume in docker-compose.yml) and the local
# state directory; created here so a fresh named volume inherits the lookalike user's ownership.
RUN mkdir -p /home/lookalike/.keras/models /home/lookalike/state /home/lookalike/reports \
 && chown -R lookalike:lookalike /home/lookalike
ENV LOOKALIKE_HOME=/home/lookalike/state \
    LOOKALIKE_SOLR_URL=http://solr:8983/solr

USER lookalike
EXPOSE 8000
ENTRYPOINT ["lookalike"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
