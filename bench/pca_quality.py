"""The product brief's quality claim: PCA from 2048 to 1024 dimensions keeps the neighbours.

Recall@10 of each vector's exact neighbours after PCA (1024, 512, 256 components) against its
neighbours in the raw 2048-d space, on generated 2048-d vectors (the calibrated spectrum) and on
the real InceptionV3 pool_3 vectors when they are present. The PCA is fitted on the same vectors
it is judged on, as the indexing job does (it fits on a sample of the catalog it indexes).
"""

from __future__ import annotations

import numpy as np

from bench.dataset import REAL_VECTORS, Catalog, calibrate
from embedder.evaluation import neighbour_recall
from embedder.reduce import PCAReducer

RAW_DIM = 2048
COMPONENTS = (1024, 512, 256)
GENERATED_ROWS = 5000


def run(synthetic: bool) -> dict[str, dict]:
    spectrum = calibrate(RAW_DIM, synthetic)
    generated = next(Catalog(spectrum, seed=7).chunks(GENERATED_ROWS)).vectors
    results = {"generated": _recalls(generated, f"{GENERATED_ROWS} generated vectors ({spectrum.source})")}
    if REAL_VECTORS.exists():
        real = np.load(REAL_VECTORS).astype(np.float32)
        results["real"] = _recalls(real, f"{len(real)} real InceptionV3 pool_3 vectors")
    return results


def _recalls(raw: np.ndarray, what: str) -> dict:
    """An exact PCA's leading components do not depend on how many are kept, so one fit at the
    largest size gives every smaller one as a prefix of its columns. Without normalization: this
    measures what the reduction loses; docs/attribute-filling.md measures the normalized spaces."""
    reducer = PCAReducer(n_components=max(COMPONENTS), normalize="none").fit(raw)
    reduced = reducer.transform(raw)
    ratios = reducer.explained_variance_ratio_
    recalls = {
        str(k): {
            "recall": neighbour_recall(raw, reduced[:, :k]),
            "fitted_components": min(k, reducer.n_fitted_components),
            "variance_kept": float(ratios[:k].sum()),
        }
        for k in COMPONENTS
    }
    return {"what": what, "rows": len(raw), "recalls": recalls}
