"""embedder.decoding: images are decoded in worker processes, bounded in time and memory, and never
under the model lock. Every bound is tested by its mechanism (a worker that never answers is
killed, one that hoards memory is refused it), never by how long something took."""

from __future__ import annotations

import io
import os
import signal
import threading

import numpy as np
import pytest
from PIL import Image

from embedder.decoding import DecodePool, model_input
from embedder.images import ImageError, load_image, to_model_input
from embedder.runtime import EmbeddingRuntime
from tests.test_images import png_header_only, scan_bomb

GENEROUS = 120.0  # seconds: only a broken mechanism waits this long


def jpeg(colour=(200, 40, 10), size=(160, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


# Worker targets (module level: a worker imports them by name).


def hang_on_paths(source, size, max_decode_bytes):
    """Never answers for a path; decodes bytes."""
    if isinstance(source, str):
        threading.Event().wait()
    return model_input(source, size, max_decode_bytes)


def hoard(source, size, max_decode_bytes):
    """Touches four times the decode budget, beyond the worker's cap."""
    np.ones(4 * max_decode_bytes // 8)
    return np.zeros((size, size, 3), np.float32)


def crash(source, size, max_decode_bytes):
    os.kill(os.getpid(), signal.SIGSEGV)


def fail(source, size, max_decode_bytes):
    raise KeyError("a bug of ours")


@pytest.fixture
def pool():
    decoder = DecodePool(workers=2, timeout=GENEROUS)
    yield decoder
    decoder.close()


def test_workers_decode_exactly_what_load_image_does(pool, tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg())
    expected = to_model_input(load_image(jpeg()))
    for source in (jpeg(), bytearray(jpeg()), path, str(path), Image.open(path)):
        np.testing.assert_array_equal(pool.decode(source), expected)
    assert pool.decode(jpeg(), size=75).shape == (75, 75, 3)


def test_workers_are_out_of_reach_of_the_callers_ctrl_c(pool):
    # A terminal's Ctrl-C signals its foreground process group: the caller says it was
    # interrupted in one line; workers in that group would each print a traceback.
    pool.decode(jpeg())
    assert pool._idle and all(os.getpgid(w.process.pid) != os.getpgrp() for w in pool._idle)


def test_a_relative_path_is_read_from_the_callers_directory(pool, tmp_path, monkeypatch):
    pool.decode(jpeg())  # a worker started in another directory
    (tmp_path / "here.jpg").write_bytes(jpeg((1, 2, 3)))
    monkeypatch.chdir(tmp_path)
    np.testing.assert_array_equal(pool.decode("here.jpg"), model_input(jpeg((1, 2, 3))))


def test_bad_images_fail_alone_with_their_reason(pool):
    results = pool.decode_all([jpeg(), b"not an image", scan_bomb(1000), png_header_only(8000, 5000, 6), jpeg()])
    assert [isinstance(r, ImageError) for r in results] == [False, True, True, True, False]
    assert "not a recognised image format" in str(results[1])
    assert "more than 100 scans" in str(results[2])
    assert "RGBA image needs about 762 MiB" in str(results[3])


def test_a_worker_that_does_not_answer_in_time_is_killed_and_replaced():
    decoder = DecodePool(workers=1, timeout=GENEROUS, target=hang_on_paths)
    decoder.decode(jpeg())
    (worker,) = decoder._idle
    decoder.timeout = 1.0
    with pytest.raises(ImageError, match=r"took longer than the decode limit of 1 s"):
        decoder.decode("never.jpg")
    assert worker.process.returncode == -signal.SIGKILL  # killed and reaped, not left running
    assert worker not in decoder._idle
    decoder.timeout = GENEROUS
    np.testing.assert_array_equal(decoder.decode(jpeg()), model_input(jpeg()))  # by its replacement
    assert decoder._idle and worker not in decoder._idle
    decoder.close()


def test_a_worker_that_ended_while_idle_is_not_given_an_image():
    decoder = DecodePool(workers=1, timeout=GENEROUS)
    decoder.decode(jpeg())
    (worker,) = decoder._idle
    worker.process.kill()
    worker.process.wait()
    np.testing.assert_array_equal(decoder.decode(jpeg()), model_input(jpeg()))
    assert decoder._idle and worker not in decoder._idle
    decoder.close()


def test_a_decode_cannot_take_more_memory_than_the_budget():
    decoder = DecodePool(workers=1, timeout=GENEROUS, max_decode_bytes=64 * 2**20, target=hoard)
    with pytest.raises(ImageError, match="needs more memory than the decode limit of 64 MiB"):
        decoder.decode(jpeg())
    decoder.close()


def test_a_decoder_crash_fails_that_image_only():
    decoder = DecodePool(workers=1, timeout=GENEROUS, target=crash)
    with pytest.raises(ImageError, match=r"the decoder stopped, exit status -11"):
        decoder.decode(jpeg())
    decoder.close()


def test_a_bug_in_the_worker_is_not_reported_as_a_bad_image():
    decoder = DecodePool(workers=1, timeout=GENEROUS, target=fail)
    with pytest.raises(RuntimeError, match="KeyError: 'a bug of ours'"):
        decoder.decode(jpeg())
    decoder.close()


def test_decoding_runs_while_another_request_holds_the_model_lock(extractor, pool):
    """The forward pass of one request must not stop another's decoding: the decode of this
    image completes while the test holds the lock, and the embedding finishes once it is free."""
    decoded = threading.Event()

    class Watched(DecodePool):
        def decode_all(self, items, size):
            result = super().decode_all(items, size)
            decoded.set()
            return result

    runtime = EmbeddingRuntime(None, extractor=extractor, decoder=Watched(workers=1, timeout=GENEROUS))
    results = []
    with runtime._lock:  # another request's forward pass
        embedding = threading.Thread(target=lambda: results.append(runtime.embed_raw([jpeg(), b"junk"])))
        embedding.start()
        assert decoded.wait(GENEROUS), "decoding waited for the model lock"
        assert not results  # the forward pass itself waits
    embedding.join(GENEROUS)
    (batch,) = results
    assert batch.ok == [0] and list(batch.errors) == [1]
    np.testing.assert_allclose(batch.vectors[0], extractor.embed_one(jpeg()), rtol=1e-4, atol=1e-7)
    runtime.decoder.close()


def test_a_hostile_image_never_reaches_the_model(extractor):
    """A scan bomb sent with a good image: refused by its headers in a worker, the good one embeds."""
    runtime = EmbeddingRuntime(None, extractor=extractor, decoder=DecodePool(workers=2, timeout=GENEROUS))
    batch = runtime.embed_raw([scan_bomb(1000, (2000, 2000)), jpeg()])
    assert batch.ok == [1] and "scans" in batch.errors[0]
    runtime.decoder.close()
