"""Embedder throughput: images per second of the indexing job (embedder.pipeline: read, decode,
resize, InceptionV3, PCA, Solr) against the raw model's ``predict_on_batch`` on the same images,
already decoded, across batch sizes. The ratio is the job's overhead over pure inference.

Weights are the random ("none") ones: the arithmetic, hence the speed, is that of the ImageNet
weights. Images are the shared fashion-products photos when present, generated ones otherwise.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.dataset import REAL_VECTORS
from embedder.images import load_image, to_model_input
from embedder.localsolr import LocalSolr
from embedder.model import FeatureExtractor
from embedder.pipeline import Indexer, IndexOptions
from embedder.reduce import PCAReducer
from embedder.runtime import EmbeddingRuntime
from embedder.solr import SolrIndex

PHOTOS = REAL_VECTORS.parents[1] / "fashion-products"
BATCH_SIZES = (8, 32, 64)


def run(solr: LocalSolr, data: Path, count: int) -> dict:
    images, source = _images(data, count)
    catalog = data / "embed-catalog.csv"
    with open(catalog, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "title", "image"])
        writer.writerows([f"img{i}", "bench image", str(p)] for i, p in enumerate(images))
    pca = data / "embed-pca.bin"
    random_raw = np.random.default_rng(0).standard_normal((1100, 2048)).astype(np.float32)
    PCAReducer(1024).fit(random_raw).save(pca)
    extractor = FeatureExtractor.load("none")
    raw_model = _raw_model()
    pixels = np.stack([to_model_input(load_image(p)) for p in images])
    index = SolrIndex(f"{solr.url}/{solr.collection}")
    rows = []
    for batch in BATCH_SIZES:
        predict = _predict_rate(raw_model, pixels, batch)
        extractor.embed(images[:batch], batch_size=batch)  # traces the graph for this shape
        index.delete_all()
        options = IndexOptions(batch_size=batch, pca_path=pca, progress=False, report_path=data / "embed-report.jsonl")
        summary = Indexer(index, EmbeddingRuntime(index, extractor=extractor), options).run(catalog)
        job = summary.counts["added"] / summary.seconds
        rows.append(
            {
                "batch": batch,
                "predict_per_s": predict,
                "job_per_s": job,
                "overhead": predict / job,
                "indexed": summary.counts["added"],
            }
        )
    index.delete_all()
    return {"images": len(images), "source": source, "rows": rows, "device": "CPU (no GPU lent)"}


def _raw_model():
    import keras

    return keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg")


def _predict_rate(model, pixels: np.ndarray, batch: int) -> float:
    """Images per second of predict_on_batch alone, after one untimed call for tracing."""
    from keras.applications.inception_v3 import preprocess_input

    model.predict_on_batch(preprocess_input(pixels[:batch].copy()))
    started = time.perf_counter()
    for first in range(0, len(pixels), batch):
        model.predict_on_batch(preprocess_input(pixels[first : first + batch].copy()))
    return len(pixels) / (time.perf_counter() - started)


def _images(data: Path, count: int) -> tuple[list[Path], str]:
    folder = PHOTOS / "images"
    if folder.is_dir():
        photos = sorted(folder.glob("*.jpg"))[:count]
        if len(photos) == count:
            return photos, f"{count} fashion-products photos ({folder})"
    folder = data / "generated-images"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i}.jpg"
        if not path.exists():
            pixels = rng.integers(0, 256, (400, 300, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths, f"{count} generated 300x400 JPEGs (no shared photos found)"
