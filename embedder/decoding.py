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

A worker is a new Python process that imports only this module (Pillow and NumPy): never a fork
of a process running TensorFlow's threads, and not multiprocessing's, which re-imports the
caller's main module in every child (2 s each, measured). It runs at a lower priority than the
sidecar (NICE), so a long decode gives way to other requests' forward passes. All ``workers``
start on first use and stay; one that is killed is replaced at once, in the background.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import resource
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

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
NICE = 10  # a worker's priority: under contention it gets about a tenth of what a sidecar thread gets
_SHARED: DecodePool | None = None
_SHARED_LOCK = threading.Lock()
# Beyond the decode budget a worker holds the input (up to twice: received, then copied) and
# Pillow's codec buffers.
_HEADROOM_BYTES = 2 * DEFAULT_MAX_BYTES + 64 * 1024 * 1024


def shared() -> DecodePool:
    """The process's pool, made on first use: workers are a resource of the process, like its
    cores, so every runtime in it shares them."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = DecodePool()
        return _SHARED


def model_input(source: object, size: int = MODEL_INPUT_SIZE, max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES):
    """What a worker does with one image: decode it, resize it, as float32 (what comes back)."""
    return to_model_input(load_image(source, max_decode_bytes=max_decode_bytes), size)


class DecodePool:
    """Worker processes that turn images (bytes or paths) into model input, one image each at a
    time. Thread-safe: every service thread may decode at once. ``target`` is what a worker runs
    on each image (``model_input``; a test gives one that hangs or hoards memory), a module-level
    function: the worker imports it by name."""

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
        self._target = f"{target.__module__}:{target.__qualname__}"
        self._slots = threading.BoundedSemaphore(workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._started = False

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
                self._start_spares(1)
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
            if not self._started:  # the others start while this one decodes
                self._started = True
                self._start_spares(self.workers - 1)
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is None:  # not ended while idle (the OOM killer, say)
                    return worker
        return _Worker(self._target, self.max_decode_bytes)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < self.workers:
                self._idle.append(worker)
                return
        worker.stop()

    def _start_spares(self, count: int) -> None:
        def start() -> None:
            self._give_back(_Worker(self._target, self.max_decode_bytes))

        for _ in range(count):
            threading.Thread(target=start, daemon=True).start()


class _Worker:
    """One worker process and the socket to it."""

    def __init__(self, target: str, max_decode_bytes: int) -> None:
        ours, theirs = socket.socketpair()
        path = os.pathsep.join(p for p in sys.path if p)  # the caller's imports, the tests' included
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from {__name__} import _serve; _serve()",
                str(theirs.fileno()),
                target,
                str(max_decode_bytes + _HEADROOM_BYTES),
            ],
            pass_fds=[theirs.fileno()],
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.DEVNULL,
            # A group of its own: Ctrl-C interrupts the caller (one line, work kept), not its
            # workers, which would each print a traceback; they end when the caller closes them.
            process_group=0,
        )
        theirs.close()
        self._conn = Connection(ours.detach())

    def run(self, request: tuple, timeout: float) -> tuple[str, object]:
        self._conn.send(request)
        if not self._conn.poll(timeout):
            raise ImageError(f"{describe_source(request[0])}: took longer than the decode limit of {timeout:g} s")
        try:
            return self._conn.recv()
        except (EOFError, OSError):  # the decoder crashed on this input (a signal), not on ours
            raise ImageError(
                f"{describe_source(request[0])}: could not be decoded (the decoder stopped, "
                f"exit status {self.process.wait()})"
            ) from None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self._conn.close()


def _serve() -> None:
    """A worker's loop (``python -c``, arguments: socket, target, extra bytes): one image in, its
    outcome out, until the socket closes."""
    conn = Connection(int(sys.argv[1]))
    module, name = sys.argv[2].split(":")
    target = getattr(importlib.import_module(module), name)
    os.nice(NICE)
    _cap_data_segment(int(sys.argv[3]))
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
