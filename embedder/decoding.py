"""Decoding in worker processes: off the model lock, bounded in time and memory whatever the file.

``embedder.images`` refuses, from its headers, a file that would be expensive to decode; this
module bounds what headers do not tell. Each image is decoded and resized to the model's input in
a worker process, and only the small result comes back:

- time: a worker that has not answered within ``timeout`` (DECODE_SECONDS) is killed and
  replaced, and that image fails alone; no other request waits for it, and the model lock is not
  held meanwhile;
- memory: a worker's data segment is capped (RLIMIT_DATA) at its start-up size plus the decode
  budget and the input, so a decode that needs more fails (MemoryError), whatever the file said;
- memory afterwards: the worker hands freed memory back to the OS after each image
  (``malloc_trim``), and the calling process never holds a decoded image at all.

Workers come from a fork server that has imported only this module (Pillow and NumPy), never
forked from a process running TensorFlow's threads; they start on first use, up to ``workers``
at once, and each then waits for its next image.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import resource
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedder.images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DECODE_BYTES,
    MODEL_INPUT_SIZE,
    ImageError,
    describe_source,
    load_image,
    to_model_input,
)

DECODE_SECONDS = 5.0  # a 40-megapixel JPEG decodes in well under a second on one core
DEFAULT_WORKERS = 4  # the service's default thread count: no request queues behind another's decode
# Beyond the decode budget a worker holds the input (up to twice: received, then copied) and
# Pillow's codec buffers.
_HEADROOM_BYTES = 2 * DEFAULT_MAX_BYTES + 64 * 1024 * 1024

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])


def model_input(source: object, size: int = MODEL_INPUT_SIZE, max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES):
    """What a worker does with one image: decode it, resize it, as float32 (what comes back)."""
    return to_model_input(load_image(source, max_decode_bytes=max_decode_bytes), size)


class DecodePool:
    """Worker processes that turn images (bytes or paths) into model input, one image each at a
    time. Thread-safe: every service thread may decode at once. ``target`` is what a worker runs
    on each image (``model_input``; a test gives one that hangs or hoards memory)."""

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        timeout: float = DECODE_SECONDS,
        max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
        target: Callable[..., np.ndarray] = model_input,
    ) -> None:
        self.workers = workers
        self.timeout = timeout
        self.max_decode_bytes = max_decode_bytes
        self._target = target
        self._slots = threading.BoundedSemaphore(workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def decode(self, source: object, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
        """The (size, size, 3) float32 model input of ``source``; raises ImageError. A PIL image
        (a library caller's, already decoded) is converted here: there is nothing to decode."""
        if not isinstance(source, (bytes, bytearray, str, os.PathLike)):
            return model_input(source, size, self.max_decode_bytes)
        with self._slots:
            worker = self._take()
            try:
                outcome, value = worker.run((source, size, self.max_decode_bytes, os.getcwd()), self.timeout)
            except BaseException:  # timed out, died, or the caller was interrupted: never reused
                worker.stop()
                raise
            self._give_back(worker)
        if outcome == "image":
            return value
        if outcome == "bad":
            raise ImageError(value)
        if outcome == "memory":
            raise ImageError(
                f"{describe_source(source)}: needs more memory than the decode limit of "
                f"{self.max_decode_bytes // 2**20} MiB"
            )
        raise RuntimeError(f"the decode worker failed:\n{value}")  # our bug: a 500, logged

    def decode_all(self, items: Sequence[object], size: int = MODEL_INPUT_SIZE) -> list[np.ndarray | ImageError]:
        """Each item's model input, or the ImageError it failed with, in order, on every worker
        at once."""

        def one(item: object) -> np.ndarray | ImageError:
            try:
                return self.decode(item, size)
            except ImageError as error:
                return error

        if len(items) == 1:
            return [one(items[0])]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as threads:
            return list(threads.map(one, items))

    def close(self) -> None:
        """Stops the idle workers (the others stop when their image is done)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Worker(self._target, self.max_decode_bytes)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, target: Callable[..., np.ndarray], max_decode_bytes: int) -> None:
        self._conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(
            target=_serve, args=(child, target, max_decode_bytes + _HEADROOM_BYTES), daemon=True
        )
        self.process.start()
        child.close()

    def run(self, request: tuple, timeout: float) -> tuple[str, object]:
        self._conn.send(request)
        if not self._conn.poll(timeout):
            raise ImageError(f"{describe_source(request[0])}: took longer than the decode limit of {timeout:g} s")
        try:
            return self._conn.recv()
        except (EOFError, OSError):  # the decoder crashed on this input (a signal), not on ours
            self.process.join(1)
            raise ImageError(
                f"{describe_source(request[0])}: could not be decoded (the decoder stopped, "
                f"exit status {self.process.exitcode})"
            ) from None

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self._conn.close()


def _serve(conn, target: Callable[..., np.ndarray], extra_bytes: int) -> None:
    """A worker's loop: one image in, its outcome out, until the pipe closes."""
    _cap_data_segment(extra_bytes)
    trim = _malloc_trim()
    while True:
        try:
            source, size, max_decode_bytes, cwd = conn.recv()
        except EOFError:
            return
        try:
            os.chdir(cwd)  # a relative path means what it means to the caller now
            outcome = ("image", target(source, size, max_decode_bytes))
        except ImageError as error:
            outcome = ("bad", str(error))
        except MemoryError:
            outcome = ("memory", "")
        except Exception:  # noqa: BLE001 - reported to the caller, which fails loudly
            outcome = ("bug", traceback.format_exc())
        conn.send(outcome)
        del outcome
        trim()


def _cap_data_segment(extra_bytes: int) -> None:
    with open("/proc/self/status") as status:
        used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = used + extra_bytes if hard == resource.RLIM_INFINITY else min(used + extra_bytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _malloc_trim() -> Callable[[], object]:
    # glibc keeps freed heap pages for reuse; malloc_trim returns them. Other C libraries: no-op.
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return (lambda: libc.malloc_trim(0)) if hasattr(libc, "malloc_trim") else lambda: None
