"""InceptionV3 ``pool_3`` feature extractor: images in, 2048-d float32 vectors out.

TensorFlow/Keras is imported only when an extractor is built, so importing
this module (e.g. for ``imagenet_weights_cached`` in a CLI status command)
stays cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedder.errors import BadInput, NotInstalled
from embedder.images import MODEL_INPUT_SIZE, ImageError, ImageSource, load_image, to_model_input

POOL3_DIM = 2048
MODEL_FAMILY = "inceptionv3-pool3"

# The same file name, origin and md5 that keras.applications.InceptionV3 uses,
# so weights cached by either path are shared.
IMAGENET_NOTOP_FILENAME = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + IMAGENET_NOTOP_FILENAME
)
IMAGENET_NOTOP_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"

# Per socket operation (connect, each read), not for the whole 87 MB download:
# Keras' urlretrieve has no timeout, so a black-holed network would hang it.
DOWNLOAD_TIMEOUT_S = 15.0

_WEIGHTS_HINT = "pass --weights PATH to a local .h5/.keras file, or --weights none for seeded random weights"


class WeightsUnavailable(BadInput):
    """The requested model weights cannot be had; the message says what to do."""


@dataclass
class EmbedBatch:
    """Result of embedding a batch: vectors for the items that decoded."""

    vectors: np.ndarray  # float32, shape (len(ok), 2048)
    ok: list[int]  # indices of the items that succeeded, in input order
    errors: dict[int, str]  # input index -> reason it failed


def extractor_name(weights: str | os.PathLike, seed: int = 0) -> str:
    """The stable id an extractor of these weights records beside its vectors, found without
    loading TensorFlow (so commands that embed nothing never load it)."""
    if weights == "imagenet":
        return f"{MODEL_FAMILY}/imagenet"
    if weights == "none":
        return f"{MODEL_FAMILY}/random-he-seed{seed}"
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailable(f"weights file {str(path)!r} does not exist; {_WEIGHTS_HINT}")
    return f"{MODEL_FAMILY}/file:{_sha256(path)[:12]}"


def weights_of(name: str) -> str | None:
    """The ``--weights`` value that makes extractor ``name``, or None for a weights file (its
    path is not recorded, only its hash)."""
    return {extractor_name("imagenet"): "imagenet", extractor_name("none"): "none"}.get(name)


def weights_label(weights: str | os.PathLike) -> str:
    """What an answer may say of ``--weights``: its name, or for a file ``file:<hash>`` as the
    collection records it, never the file's path on the server."""
    if weights in ("imagenet", "none"):
        return str(weights)
    try:
        return extractor_name(weights).rsplit("/", 1)[1]
    except WeightsUnavailable:
        return "file (missing)"


def keras_cache_dirs() -> list[Path]:
    """Where Keras caches downloaded model weights, in lookup order.

    Mirrors keras.src.backend.config (KERAS_HOME, else ~/.keras, else /tmp)
    and get_file's fallback to /tmp/.keras when that is not writable, without
    importing Keras.
    """
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        base = Path.home()
        home = (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"
    dirs = [home / "models", Path("/tmp/.keras/models")]
    return list(dict.fromkeys(dirs))


def imagenet_weights_cached() -> bool:
    """True when valid InceptionV3 no-top ImageNet weights are in the Keras cache."""
    for directory in keras_cache_dirs():
        candidate = directory / IMAGENET_NOTOP_FILENAME
        # Keras re-downloads a cached file whose hash is wrong, so only a
        # matching file counts as cached.
        if candidate.is_file() and _md5(candidate) == IMAGENET_NOTOP_MD5:
            return True
    return False


class FeatureExtractor:
    """InceptionV3 without its classifier, global-average-pooled (``pool_3``).

    Build with :meth:`load`. Inputs are decoded with :func:`images.load_image`
    (in worker processes when they come through the runtime: ``embedder.decoding``),
    stretched to the model's input size and scaled with Inception's
    ``preprocess_input`` (to [-1, 1]).
    """

    def __init__(self, model: Any, name: str, description: str, input_size: int = MODEL_INPUT_SIZE) -> None:
        self._model = model
        self._name = name
        self._description = description
        self._input_size = input_size

    @classmethod
    def load(cls, weights: str | os.PathLike = "imagenet", seed: int = 0) -> FeatureExtractor:
        """Build the extractor.

        ``weights``: "imagenet" (downloaded once into the Keras cache), "none"
        (random weights seeded by ``seed``: identical across runs and
        processes), or a path to a ``.h5`` / ``.weights.h5`` weights file or a
        full ``.keras`` model with a 2048-d output.
        """
        keras = _import_keras()
        if weights == "imagenet":
            model = _inception(keras, _imagenet_weights_path(keras))
            return cls(model, extractor_name(weights), "InceptionV3 pool_3, ImageNet weights")
        if weights == "none":
            # Keras draws initial weights from its global seed; seeding just
            # before building makes them a pure function of `seed`. (This also
            # reseeds Python's and NumPy's global generators, as Keras does.)
            keras.utils.set_random_seed(seed)
            model = _inception(keras, None)
            _he_normal_kernels(keras, model, seed)
            return cls(
                model,
                extractor_name(weights, seed),
                f"InceptionV3 pool_3, random He-normal weights (seed {seed})",
            )
        return cls._from_file(keras, Path(weights))

    @classmethod
    def _from_file(cls, keras: Any, path: Path) -> FeatureExtractor:
        if not path.is_file():
            raise WeightsUnavailable(f"weights file {str(path)!r} does not exist; {_WEIGHTS_HINT}")
        try:
            if path.suffix == ".keras":
                model = keras.models.load_model(path, compile=False)
            else:
                model = _inception(keras, str(path))
        except Exception as exc:  # noqa: BLE001 - Keras/h5py raise many types
            raise WeightsUnavailable(
                f"cannot load weights from {str(path)!r} ({_short(exc)}); {_WEIGHTS_HINT}"
            ) from exc
        input_size = _checked_input_size(model, path)
        name = extractor_name(path)
        return cls(model, name, f"InceptionV3 pool_3, weights from {path.name} ({name})", input_size)

    @property
    def name(self) -> str:
        """Stable id of model + weights, recorded next to the vectors it makes."""
        return self._name

    @property
    def description(self) -> str:
        """Human-readable one-liner for logs and status output."""
        return self._description

    @property
    def dim(self) -> int:
        return POOL3_DIM

    @property
    def input_size(self) -> int:
        """The side of the square the model takes, in pixels."""
        return self._input_size

    def embed(self, items: Sequence[ImageSource], batch_size: int = 32) -> EmbedBatch:
        """Embed ``items``, decoded in this process; an item that fails to decode is reported,
        not fatal. (The runtime decodes in worker processes and calls ``embed_decoded``.)"""
        return self.embed_decoded(map(self._decoded, items), batch_size)

    def embed_decoded(self, decoded: Iterable[np.ndarray | ImageError], batch_size: int = 32) -> EmbedBatch:
        """Embed items already turned into model input, each an array or the ImageError it
        failed with: the forward passes, and nothing that reads the input."""
        if batch_size < 1:
            raise BadInput(f"batch_size must be >= 1, got {batch_size}")
        errors: dict[int, str] = {}
        ok: list[int] = []
        chunks: list[np.ndarray] = []
        for indices, pixels in _batches(decoded, batch_size, errors):
            ok.extend(indices)
            chunks.append(self._infer(pixels))
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, POOL3_DIM), np.float32)
        return EmbedBatch(vectors=vectors, ok=ok, errors=errors)

    def embed_one(self, item: ImageSource) -> np.ndarray:
        """Embed a single item as a (2048,) float32 vector; raises ImageError."""
        return self._infer(self._pixels(item)[np.newaxis])[0]

    def _decoded(self, item: ImageSource) -> np.ndarray | ImageError:
        try:
            return self._pixels(item)
        except ImageError as error:
            return error

    def _pixels(self, item: ImageSource) -> np.ndarray:
        return to_model_input(load_image(item), self._input_size)

    def _infer(self, pixels: np.ndarray) -> np.ndarray:
        from keras.applications.inception_v3 import preprocess_input

        # predict_on_batch runs a compiled graph: measured on 2 CPU cores it is
        # ~40 img/s at batch 32 vs ~31 img/s for eager model(x, training=False),
        # and ~5x faster for single images.
        out = self._model.predict_on_batch(preprocess_input(pixels))
        return np.asarray(out, dtype=np.float32)


def _batches(
    decoded: Iterable[np.ndarray | ImageError], batch_size: int, errors: dict[int, str]
) -> Iterator[tuple[list[int], np.ndarray]]:
    # Fill each batch with decoded items only, so every batch but the last has the same shape
    # and the inference function is traced once.
    indices: list[int] = []
    arrays: list[np.ndarray] = []
    for index, item in enumerate(decoded):
        if isinstance(item, ImageError):
            errors[index] = str(item)
            continue
        indices.append(index)
        arrays.append(item)
        if len(arrays) == batch_size:
            yield indices, np.stack(arrays)
            indices, arrays = [], []
    if arrays:
        yield indices, np.stack(arrays)


def _import_keras() -> Any:
    # Quieten TensorFlow's C++ start-up chatter unless the user asked for it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras
    except ImportError:  # the base install is the client, the CLI and the service without TensorFlow
        raise NotInstalled(
            "embedding images needs TensorFlow, which is not installed: install the embed extra (pip install "
            "'.[embed]' in a checkout, or the wheel's file name followed by [embed]) "
            "(searches by id, vector or keywords, tagging by ids, clusters and --vectors work without it)"
        ) from None
    return keras


def _inception(keras: Any, weights: str | None) -> Any:
    return keras.applications.InceptionV3(
        include_top=False,
        weights=weights,
        pooling="avg",
        input_shape=(MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 3),
    )


def _he_normal_kernels(keras: Any, model: Any, seed: int) -> None:
    """Redraws every convolution kernel from He-normal. Keras's default Glorot init makes the
    signal vanish through InceptionV3's ~94 ReLU layers (pool_3 values ~1e-4, all images alike);
    He init keeps its variance, so random features still tell colours and shapes apart."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            shape = tuple(layer.kernel.shape)
            fan_in = int(np.prod(shape[:-1]))
            layer.kernel.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32))


def _imagenet_weights_path(keras: Any) -> str:
    """The cached no-top weights file, downloading it (bounded) if needed."""
    previous = socket.getdefaulttimeout()
    # The default timeout is process-wide; it is restored right after. Keras
    # prints progress to stdout, which callers may use for data: use stderr.
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return keras.utils.get_file(
                IMAGENET_NOTOP_FILENAME,
                IMAGENET_NOTOP_URL,
                cache_subdir="models",
                file_hash=IMAGENET_NOTOP_MD5,
            )
    except Exception as exc:  # noqa: BLE001 - urllib/Keras raise many types
        raise WeightsUnavailable(
            "InceptionV3 ImageNet weights are not cached and could not be "
            f"downloaded ({_download_reason(exc)}); {_WEIGHTS_HINT}"
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)


def _download_reason(exc: BaseException) -> str:
    # Keras wraps URLError in a long "URL fetch failure on <url>: ..." message;
    # the underlying reason is what the user needs.
    cause = exc.__cause__ or exc.__context__
    reason = getattr(cause, "reason", None) or cause or exc
    return _short(reason)


def _short(value: object, limit: int = 160) -> str:
    text = " ".join(str(value).split()) or type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _checked_input_size(model: Any, path: Path) -> int:
    """Validate a loaded model's shapes; return its square input side.

    A model whose spatial input dims are free gets the standard 299.
    """
    out_shape, in_shape = tuple(model.output_shape), tuple(model.input_shape)
    problem = None
    if len(out_shape) != 2 or out_shape[-1] != POOL3_DIM:
        problem = f"outputs shape {out_shape}, expected (None, {POOL3_DIM})"
    elif len(in_shape) != 4 or in_shape[-1] != 3 or in_shape[1] != in_shape[2]:
        problem = f"takes input shape {in_shape}, expected (None, N, N, 3)"
    if problem:
        raise WeightsUnavailable(f"model in {str(path)!r} {problem}; {_WEIGHTS_HINT}")
    return int(in_shape[1]) if in_shape[1] is not None else MODEL_INPUT_SIZE


def _md5(path: Path) -> str:
    return _file_digest(path, hashlib.md5())


def _sha256(path: Path) -> str:
    return _file_digest(path, hashlib.sha256())


def _file_digest(path: Path, digest: Any) -> str:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
