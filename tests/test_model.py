"""embedder.model with seeded random weights (ImageNet weights cannot be downloaded here)."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from embedder import model as model_module
from embedder.images import ImageError
from embedder.model import FeatureExtractor, WeightsUnavailable, imagenet_weights_cached
from tests.helpers import REPO, shared_dataset

# Embedding an image alone or inside a batch runs different oneDNN kernels, so
# the same image differs by float rounding (~1e-9 on values ~1e-3), never more.
BATCH_TOLERANCE = {"rtol": 1e-4, "atol": 1e-7}


def pattern(seed: int, size: tuple[int, int] = (180, 140)) -> Image.Image:
    """A smooth random colour pattern (more image-like than white noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    pattern(9).save(buffer, "JPEG")
    return buffer.getvalue()[:600]


def test_importing_the_module_does_not_import_tensorflow() -> None:
    code = "import sys, embedder.model; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_vectors_are_pool3_shaped_finite_and_non_negative(extractor: FeatureExtractor) -> None:
    batch = extractor.embed([pattern(i) for i in range(3)])
    assert batch.vectors.shape == (3, 2048) and batch.vectors.dtype == np.float32
    assert batch.ok == [0, 1, 2] and batch.errors == {}
    assert np.isfinite(batch.vectors).all()
    assert (batch.vectors >= 0).all()  # average pool of ReLU outputs
    assert not np.allclose(batch.vectors[0], batch.vectors[1])
    assert extractor.dim == 2048


def test_names_record_the_weights(extractor: FeatureExtractor) -> None:
    assert extractor.name == "inceptionv3-pool3/random-he-seed0"
    assert "seed 0" in extractor.description


def test_seeded_weights_are_deterministic(extractor: FeatureExtractor) -> None:
    images = [pattern(1), pattern(2)]
    again = FeatureExtractor.load("none", seed=0)
    np.testing.assert_array_equal(again.embed(images).vectors, extractor.embed(images).vectors)
    other = FeatureExtractor.load("none", seed=1)
    assert other.name == "inceptionv3-pool3/random-he-seed1"
    assert not np.allclose(other.embed(images).vectors, extractor.embed(images).vectors)


def test_seeded_weights_are_identical_across_processes(extractor: FeatureExtractor, tmp_path: Path) -> None:
    image, out = tmp_path / "pattern.png", tmp_path / "vector.npy"
    pattern(3).save(image)
    code = (
        "import sys, numpy as np; from embedder.model import FeatureExtractor; "
        "np.save(sys.argv[2], FeatureExtractor.load('none', seed=0).embed_one(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(image), str(out)], cwd=REPO, check=True, capture_output=True)
    np.testing.assert_array_equal(np.load(out), extractor.embed_one(image))


def test_a_bad_item_fails_alone(extractor: FeatureExtractor) -> None:
    good = [pattern(4), pattern(5), pattern(6)]
    items = [good[0], b"not an image", good[1], truncated_jpeg(), b"", good[2]]
    batch = extractor.embed(items, batch_size=2)
    assert batch.ok == [0, 2, 5]
    assert sorted(batch.errors) == [1, 3, 4]
    assert "not a recognised image" in batch.errors[1] and "truncated" in batch.errors[3]
    assert batch.vectors.shape == (3, 2048)
    for vector, img in zip(batch.vectors, good):
        np.testing.assert_allclose(vector, extractor.embed_one(img), **BATCH_TOLERANCE)


def test_all_bad_items_give_an_empty_batch(extractor: FeatureExtractor) -> None:
    batch = extractor.embed([b"x", b""])
    assert batch.vectors.shape == (0, 2048) and batch.ok == [] and sorted(batch.errors) == [0, 1]
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        extractor.embed([pattern(0)], batch_size=0)


def test_embed_one_raises_image_error(extractor: FeatureExtractor) -> None:
    with pytest.raises(ImageError, match="truncated"):
        extractor.embed_one(truncated_jpeg())


def test_bytes_path_and_pil_give_the_same_vector(extractor: FeatureExtractor, tmp_path: Path) -> None:
    data = png(pattern(7))
    path = tmp_path / "p.png"
    path.write_bytes(data)
    batch = extractor.embed([data, path, str(path), Image.open(io.BytesIO(data))])
    for vector in batch.vectors[1:]:
        np.testing.assert_array_equal(vector, batch.vectors[0])


def test_real_product_photos(extractor: FeatureExtractor) -> None:
    paths = sorted((shared_dataset("fashion-products") / "images").glob("*.jpg"))[:4]
    batch = extractor.embed(paths + [path.read_bytes() for path in paths], batch_size=4)
    assert batch.vectors.shape == (8, 2048) and np.isfinite(batch.vectors).all()
    np.testing.assert_allclose(batch.vectors[:4], batch.vectors[4:], **BATCH_TOLERANCE)
    assert len({vector.tobytes() for vector in batch.vectors[:4]}) == 4


# -- weights from files ------------------------------------------------------------------


def test_keras3_weights_file_reproduces_the_model(extractor: FeatureExtractor, tmp_path: Path) -> None:
    path = tmp_path / "inception.weights.h5"
    extractor._model.save_weights(path)
    loaded = FeatureExtractor.load(str(path))
    assert loaded.name.startswith("inceptionv3-pool3/file:")
    np.testing.assert_array_equal(loaded.embed_one(pattern(8)), extractor.embed_one(pattern(8)))


def test_legacy_h5_weights_file_reproduces_the_model(extractor: FeatureExtractor, tmp_path: Path) -> None:
    # The ImageNet file Keras downloads is in this legacy layout.
    h5py = pytest.importorskip("h5py")
    from keras.src.legacy.saving import legacy_h5_format

    path = tmp_path / "inception_notop.h5"
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, extractor._model)
    loaded = FeatureExtractor.load(str(path))
    np.testing.assert_array_equal(loaded.embed_one(pattern(8)), extractor.embed_one(pattern(8)))


def test_full_keras_model_file(extractor: FeatureExtractor, tmp_path: Path) -> None:
    path = tmp_path / "inception.keras"
    extractor._model.save(path)
    loaded = FeatureExtractor.load(str(path))
    np.testing.assert_array_equal(loaded.embed_one(pattern(8)), extractor.embed_one(pattern(8)))


def test_keras_model_with_wrong_output_is_refused(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((299, 299, 3))
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(inputs))
    path = tmp_path / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(WeightsUnavailable, match=r"tiny\.keras.*\(None, 10\), expected \(None, 2048\)"):
        FeatureExtractor.load(str(path))


def test_missing_or_corrupt_weights_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match=r"nope\.h5.*does not exist.*--weights none"):
        FeatureExtractor.load(str(tmp_path / "nope.h5"))
    corrupt = tmp_path / "corrupt.weights.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(WeightsUnavailable, match=r"cannot load weights from .*corrupt\.weights\.h5"):
        FeatureExtractor.load(str(corrupt))


# -- ImageNet weights without a network -------------------------------------------------


@pytest.fixture
def imagenet_not_cached() -> None:
    if imagenet_weights_cached():
        pytest.skip("the ImageNet weights are cached here, so no download is attempted")


def resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def test_imagenet_offline_fails_fast_with_one_line(imagenet_not_cached: None) -> None:
    if resolves("storage.googleapis.com"):
        pytest.skip("this machine is online: loading would download the 87 MB weights")
    started = time.monotonic()
    with pytest.raises(WeightsUnavailable) as caught:
        FeatureExtractor.load("imagenet")
    elapsed = time.monotonic() - started
    message = str(caught.value)
    print(f"\nimagenet offline failed in {elapsed:.3f}s: {message}")
    assert elapsed < 10
    assert "\n" not in message
    assert message.startswith("InceptionV3 ImageNet weights are not cached and could not be downloaded (")
    assert "--weights PATH" in message and "--weights none" in message


def test_imagenet_download_that_hangs_is_cut_short(imagenet_not_cached: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # A listening socket nobody serves: the kernel completes the TCP handshake
    # and the request is never answered, like a black-holed proxy.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setattr(model_module, "IMAGENET_NOTOP_URL", f"http://127.0.0.1:{port}/weights.h5")
        monkeypatch.setattr(model_module, "DOWNLOAD_TIMEOUT_S", 1.0)
        started = time.monotonic()
        with pytest.raises(WeightsUnavailable, match="timed out"):
            FeatureExtractor.load("imagenet")
        assert time.monotonic() - started < 10
    assert socket.getdefaulttimeout() is None  # the process-wide default is restored


def test_imagenet_cache_lookup_follows_keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert model_module.keras_cache_dirs()[0] == tmp_path / "models"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / model_module.IMAGENET_NOTOP_FILENAME).write_bytes(b"partial download")
    monkeypatch.setattr(model_module, "keras_cache_dirs", lambda: [tmp_path / "models"])
    assert not imagenet_weights_cached()  # a file with the wrong hash is not the weights
