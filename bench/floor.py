"""Where the time goes: the memory floor of the exact unfiltered top 10.

Unfiltered, the plugin's first stage reads every document's first sketch stage, FIRST_STAGE_BYTES
each, and only a few documents' whole vectors. Streaming those bytes at this machine's memory
bandwidth is the least such a scan can cost; the report gives the plugin's latency as a multiple
of it. The bandwidth is numpy's sum over an array much larger than the caches, on one thread and
on every core (best of REPEATS, since other work on the machine can only slow it).
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# docs/vector-format.md: the first stage holds the first 128 of the sketched components, one
# byte each, after one 20-byte block header (fixed-length doc values: no per-document address).
FIRST_STAGE_BYTES = 128 + 20
ARRAY_BYTES = 1 << 30
REPEATS = 5
GOAL = 2.0  # the plugin's unfiltered p50 within this multiple of the floor (one core)


def bandwidth() -> dict[str, float]:
    """Bytes per second read from memory by one thread and by one thread per core."""
    data = np.ones(ARRAY_BYTES // 8)
    measured = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        parts = np.array_split(data, threads)
        best = math.inf
        with ThreadPoolExecutor(threads) as pool:  # numpy's reductions release the GIL
            for _ in range(REPEATS):
                started = time.perf_counter()
                list(pool.map(np.sum, parts))
                best = min(best, time.perf_counter() - started)
        measured[str(threads)] = data.nbytes / best
    return measured


def floor_ms(n: int, bytes_per_s: float) -> float:
    return n * FIRST_STAGE_BYTES / bytes_per_s * 1000


def rows(r: dict) -> list[tuple[int, float, dict[str, float]]]:
    """(N, the plugin's unfiltered p50 ms, the floor in ms per thread count) at each N."""
    found = []
    for point in r["points"]:
        cell = point["cells"].get("lookalike/unfiltered")
        if cell:
            floors = {t: floor_ms(point["n"], b) for t, b in r["bandwidth"].items()}
            found.append((point["n"], cell["p50_ms"], floors))
    return found


def section(r: dict) -> str:
    title = "## Where the time goes: the memory floor of the exact unfiltered query\n"
    if "bandwidth" not in r:
        return f"{title}\nNot measured in this run.\n"
    bands = ", ".join(f"{b / 1e9:.1f} GB/s on {t} thread{'s' if t != '1' else ''}" for t, b in r["bandwidth"].items())
    lines = [
        title,
        f"The first stage streams {FIRST_STAGE_BYTES} bytes of sketch per document. Measured bandwidth: {bands}. "
        "A request runs on one thread, so the one-thread floor is the one it can reach; the other is what "
        "one request would cost if it could use every core.\n",
        "| N | plugin p50 ms | floor, 1 thread | floor, all cores | p50 / floor (1 thread) | ns per document |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    threads = sorted(r["bandwidth"], key=int)
    for n, p50, floors in rows(r):
        lines.append(
            f"| {n:,} | {p50:.1f} | {floors['1']:.1f} ms | {floors[threads[-1]]:.1f} ms "
            f"| {p50 / floors['1']:.1f}x | {p50 * 1e6 / n:.0f} |"
        )
    n, p50, floors = rows(r)[-1]
    multiple = p50 / floors["1"]
    pace = (
        "per-document work (doc-values access, the bound and its branches), not memory, sets the pace"
        if multiple > GOAL
        else "the scan runs near the speed of memory"
    )
    lines.append(
        f"\nAt N = {n:,} the plugin takes {multiple:.1f}x the one-thread floor "
        f"({'within' if multiple <= GOAL else 'beyond'} the goal of {GOAL:g}x): {p50 * 1e6 / n:.0f} ns per "
        f"document against {floors['1'] * 1e6 / n:.1f} ns to stream its sketch, so {pace}."
    )
    return "\n".join(lines) + "\n"
