"""A seeded synthetic catalog with the statistics of PCA-reduced CNN image features.

Vectors are generated directly in PCA coordinates: dimension ``i`` has variance ``spectrum[i]``,
sorted decreasing like the output of a PCA. The spectrum is calibrated on real InceptionV3
``pool_3`` vectors (a PCA of them; beyond their rank the tail is a power law fitted on the
measured eigenvalues). Without them a run stops, naming the file: only an explicit
``--synthetic-spectrum`` runs on the documented power law ``var_i = (i + 1) ** -POWER_LAW_EXPONENT``
instead, and the results and the report say so (the two give different data and numbers).

Each dimension's variance is split over three levels of cluster structure, as in a fashion
catalog: a category (shirts, shoes...), a style inside it, and the colourways of a style, which
are near-duplicates of each other. Facets with known selectivity (``f10``: 10 values, ``f100``:
100 values) and a title with a material keyword (20 values, 5%) are drawn independently of the
vector, so a filter keeps the stated share of documents whatever the query.

The catalog is produced in chunks of ``CHUNK`` documents, each from its own seeded generator, so
the first ``n`` documents are the same whatever the total size and memory holds one chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REAL_VECTORS = Path(__file__).resolve().parents[1].parent / "shared/datasets/inception-pool3-styles/vectors.npy"
POWER_LAW_EXPONENT = 1.0
FALLBACK_TOTAL_VARIANCE = 60.0
CHUNK = 10_000
CATEGORIES = 40
COLOURWAYS = 5
# Shares of each dimension's variance: between categories, between styles of a category,
# between colourways of a style (the near-duplicates).
LEVEL_SHARES = (0.30, 0.60, 0.10)
COLOURS = ("black", "white", "navy", "red", "green", "grey", "beige", "pink", "blue", "brown")
MATERIALS = (
    "cotton",
    "linen",
    "wool",
    "silk",
    "denim",
    "leather",
    "suede",
    "canvas",
    "satin",
    "velvet",
    "fleece",
    "jersey",
    "tweed",
    "mesh",
    "nylon",
    "cashmere",
    "corduroy",
    "lace",
    "chiffon",
    "knit",
)


@dataclass(frozen=True)
class Spectrum:
    """Per-dimension variances in PCA order, and where they came from."""

    variances: np.ndarray
    source: str
    synthetic: bool  # the power law, not the real vectors' spectrum


class MissingRealVectors(FileNotFoundError):
    """The real vectors the spectrum is calibrated on are absent, and no flag allowed the power law."""


def calibrate(dim: int, synthetic: bool, real_path: Path = REAL_VECTORS) -> Spectrum:
    """The variance spectrum of ``dim`` PCA components of the real vectors, or with ``synthetic``
    the power law. A missing file is an error, not a silent change of data."""
    if synthetic:
        ranks = np.arange(1, dim + 1, dtype=np.float64)
        law = ranks**-POWER_LAW_EXPONENT
        return Spectrum(
            law * FALLBACK_TOTAL_VARIANCE / law.sum(),
            f"SYNTHETIC power law var_i ~ (i+1)^-{POWER_LAW_EXPONENT} (--synthetic-spectrum), "
            "not the real vectors' spectrum",
            synthetic=True,
        )
    if not real_path.exists():
        raise MissingRealVectors(
            f"{real_path} is absent: the bench generates its data with the spectrum of these real "
            "InceptionV3 vectors. Put them there, or pass --synthetic-spectrum to run on a power-law "
            "spectrum instead (other data, other numbers; the report says so)."
        )
    real = np.load(real_path).astype(np.float64)
    centred = real - real.mean(axis=0)
    measured = np.linalg.svd(centred, compute_uv=False) ** 2 / (len(real) - 1)
    measured = measured[measured > measured[0] * 1e-9][: len(real) - 1]
    return Spectrum(
        _extend(measured, dim),
        f"PCA of {real.shape[0]} real InceptionV3 pool_3 vectors ({real.shape[1]}-d, {real_path.name}); "
        f"{min(len(measured), dim)} measured eigenvalues, power-law tail beyond",
        synthetic=False,
    )


def _extend(measured: np.ndarray, dim: int) -> np.ndarray:
    """The measured eigenvalues, continued past their rank by a log-log line fitted on the
    second half of them (a small sample's eigenvalues stop at its rank, the true spectrum does
    not)."""
    if len(measured) >= dim:
        return measured[:dim]
    ranks = np.arange(1, len(measured) + 1)
    half = len(measured) // 2
    slope, intercept = np.polyfit(np.log(ranks[half:]), np.log(measured[half:]), 1)
    tail_ranks = np.arange(len(measured) + 1, dim + 1)
    return np.concatenate([measured, np.exp(intercept) * tail_ranks**slope])


@dataclass(frozen=True)
class Chunk:
    """Consecutive documents ``start .. start + len(vectors)``: vectors and facet codes."""

    start: int
    vectors: np.ndarray  # float32, (n, dim)
    category: np.ndarray
    f10: np.ndarray
    f100: np.ndarray
    colour: np.ndarray
    material: np.ndarray

    def titles(self) -> list[str]:
        return [f"{COLOURS[c]} {MATERIALS[m]} item{k}" for c, m, k in zip(self.colour, self.material, self.category)]


class Catalog:
    """The generated catalog for one seed and spectrum."""

    def __init__(self, spectrum: Spectrum, seed: int = 42) -> None:
        self.spectrum = spectrum
        self.seed = seed
        self.dim = len(spectrum.variances)
        self.scales = [np.sqrt(share * spectrum.variances) for share in LEVEL_SHARES]
        rng = np.random.default_rng([seed, 0])
        self.centroids = rng.standard_normal((CATEGORIES, self.dim)) * self.scales[0]

    def chunks(self, n: int) -> Iterator[Chunk]:
        """The first ``n`` documents, ``CHUNK`` at a time."""
        for index, start in enumerate(range(0, n, CHUNK)):
            yield self._chunk(index, start, min(CHUNK, n - start))

    def _chunk(self, index: int, start: int, size: int) -> Chunk:
        rng = np.random.default_rng([self.seed, 1, index])
        styles = -(-CHUNK // COLOURWAYS)
        category = rng.integers(CATEGORIES, size=styles)
        style = self.centroids[category] + rng.standard_normal((styles, self.dim)) * self.scales[1]
        docs = np.repeat(style, COLOURWAYS, axis=0)[:CHUNK]
        docs += rng.standard_normal(docs.shape) * self.scales[2]
        # Colourways of a style are spread over the chunk, as products arrive in any order.
        order = rng.permutation(CHUNK)[:size]
        return Chunk(
            start=start,
            vectors=docs[order].astype(np.float32),
            category=np.repeat(category, COLOURWAYS)[:CHUNK][order],
            f10=rng.integers(10, size=CHUNK)[:size],
            f100=rng.integers(100, size=CHUNK)[:size],
            colour=rng.integers(len(COLOURS), size=CHUNK)[:size],
            material=rng.integers(len(MATERIALS), size=CHUNK)[:size],
        )

    def write(self, n: int, path: Path) -> Stored:
        """Writes the first ``n`` documents' vectors to a float32 file and the facet codes to an
        ``.npz`` beside it; re-uses them when they are already there."""
        facets_path = path.with_suffix(".npz")
        if not (path.exists() and facets_path.exists() and path.stat().st_size == n * self.dim * 4):
            path.parent.mkdir(parents=True, exist_ok=True)
            vectors = np.lib.format.open_memmap(path, "w+", np.float32, (n, self.dim))
            parts: dict[str, list[np.ndarray]] = {k: [] for k in FACETS}
            for chunk in self.chunks(n):
                vectors[chunk.start : chunk.start + len(chunk.vectors)] = chunk.vectors
                for key in FACETS:
                    parts[key].append(getattr(chunk, key))
            vectors.flush()
            del vectors
            np.savez(facets_path, **{k: np.concatenate(v) for k, v in parts.items()})
        return Stored.open(path)

    def queries(self, count: int, within: int) -> Queries:
        """Query images: a new colourway of a random product among the first ``within``
        documents (a shopper's photo of something the catalog has in another colour), with a
        random value of each facet and a material keyword."""
        rng = np.random.default_rng([self.seed, 2])
        picks = np.sort(rng.choice(within, size=count, replace=False))
        base = np.concatenate([c.vectors for c in self.chunks(int(picks[-1]) + 1)])[picks]
        vectors = base + rng.standard_normal(base.shape) * self.scales[2]
        return Queries(
            vectors=vectors.astype(np.float32),
            f10=rng.integers(10, size=count),
            f100=rng.integers(100, size=count),
            material=rng.integers(len(MATERIALS), size=count),
        )


FACETS = ("category", "f10", "f100", "colour", "material")


@dataclass(frozen=True)
class Stored:
    """A written catalog: vectors memory-mapped, facet codes in memory (a few bytes a doc)."""

    vectors: np.ndarray
    facets: dict[str, np.ndarray]

    @classmethod
    def open(cls, path: Path) -> Stored:
        with np.load(path.with_suffix(".npz")) as data:
            facets = {k: data[k] for k in FACETS}
        return cls(np.load(path, mmap_mode="r"), facets)

    def chunk(self, start: int, stop: int) -> Chunk:
        return Chunk(start, np.asarray(self.vectors[start:stop]), **{k: v[start:stop] for k, v in self.facets.items()})


@dataclass(frozen=True)
class Queries:
    vectors: np.ndarray
    f10: np.ndarray
    f100: np.ndarray
    material: np.ndarray

    def __len__(self) -> int:
        return len(self.vectors)
