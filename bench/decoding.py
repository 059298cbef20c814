"""Hostile images, measured side by side: the sidecar's runtime as it is (decoding in worker
processes, then the forward pass under the model lock) against the previous design (decoding in
the calling thread, under the lock), on the same images.

- delay: how much longer an ordinary image takes to embed while a hostile one is being embedded
  by another thread, than alone;
- memory: the process's resident memory (and its decode workers') after ten large RGBA uploads
  embedded from 4 threads, as the service's threads would, against its baseline; each design in
  a fresh process, so neither inherits the other's heap;
- the peak bytes per pixel of each mode, measured in a fresh worker, against the budget's table
  (``embedder.images``).

``python -m bench.decoding`` writes bench/results-decoding.json, shown in bench/REPORT.md.
"""

from __future__ import annotations

import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench import embedder_bench
from embedder import images
from embedder.decoding import DecodePool
from embedder.model import FeatureExtractor
from embedder.runtime import EmbeddingRuntime

FOLDER = Path(__file__).resolve().parent
UPLOADS, THREADS = 12, 4


UNLIMITED = {"max_decode_bytes": 2**62, "max_jpeg_scans": 2**62, "max_frames": 2**62}


class PreviousRuntime(EmbeddingRuntime):
    """The design before: decoding in this thread, under the lock, and only the pixel count
    checked from the headers (today's conversions, which copy a little less)."""

    def embed_raw(self, images_, batch_size=32):
        extractor = self.extractor()
        with self._lock:
            decoded = [_previous_decode(item, extractor.input_size) for item in images_]
            return extractor.embed_decoded(decoded, batch_size=batch_size)


def _previous_decode(item: object, size: int) -> np.ndarray | images.ImageError:
    try:
        return images.to_model_input(images.load_image(item, **UNLIMITED), size)
    except images.ImageError as error:
        return error


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def scan_bomb(side: int, scans: int) -> bytes:
    """A progressive JPEG whose costliest scan (an AC refinement) is repeated: a few hundred bytes
    a scan, each one another pass over every block."""
    data = encode(Image.new("RGB", (side, side), (120, 30, 200)), "JPEG", progressive=True, quality=90)
    starts = [m.start() for m in re.finditer(rb"\xff\xda", data)]  # a flat image: no 0xFFDA in its data
    ends = starts[1:] + [len(data) - 2]
    costliest = data[starts[5] : ends[5]]
    return data[: ends[-1]] + costliest * (scans - len(starts)) + data[ends[-1] :]


def hostile_images() -> dict[str, bytes]:
    return {
        "JPEG, 1000 scans, 16 Mpx": scan_bomb(4000, 1000),
        f"JPEG, {images.MAX_JPEG_SCANS} scans (the limit), 36 Mpx": scan_bomb(6000, images.MAX_JPEG_SCANS),
        "RGBA PNG, 40 Mpx": encode(Image.new("RGBA", (8000, 5000), (10, 20, 30, 128)), "PNG"),
        "RGBA PNG, 25 Mpx (within the budget)": encode(Image.new("RGBA", (5000, 5000), (10, 20, 30, 128)), "PNG"),
    }


def ordinary() -> bytes:
    rng = np.random.default_rng(0)
    return encode(Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).resize((640, 480)), "JPEG")


def delays(extractor: FeatureExtractor, repeat: int = 3) -> list[dict]:
    """Per hostile image and design: the ordinary image's time alone, and (median of ``repeat``)
    its extra time when it arrives while the hostile one is being embedded."""
    rows = []
    for name, data in hostile_images().items():
        row = {"image": name, "bytes": len(data)}
        for design, runtime in (("previous", PreviousRuntime(None, extractor=extractor)), ("now", _runtime(extractor))):
            alone = _median_seconds(lambda runtime=runtime: runtime.embed_raw([ordinary()]))
            runs = [_meanwhile(runtime, data) for _ in range(repeat)]
            row[design] = {
                "alone_s": alone,
                "delay_s": statistics.median(r["meanwhile_s"] for r in runs) - alone,
                "seconds": statistics.median(r["seconds"] for r in runs),
                "refused": runs[0]["refused"],
            }
            runtime.decoder.close()
        rows.append(row)
    return rows


def _meanwhile(runtime: EmbeddingRuntime, data: bytes) -> dict:
    outcome: dict = {}

    def hostile():
        started = time.perf_counter()
        batch = runtime.embed_raw([data])
        outcome["seconds"] = time.perf_counter() - started
        outcome["refused"] = batch.errors.get(0, "")

    thread = threading.Thread(target=hostile)
    thread.start()
    time.sleep(0.2)  # the hostile image is being decoded
    started = time.perf_counter()
    runtime.embed_raw([ordinary()])
    outcome["meanwhile_s"] = time.perf_counter() - started
    thread.join()
    return outcome


def memory(design: str) -> dict:
    """In a fresh process: resident MiB when warm, then after the uploads of each large image in
    turn (the 40-megapixel one first)."""
    extractor = FeatureExtractor.load("none")
    runtime = (PreviousRuntime if design == "previous" else EmbeddingRuntime)(None, extractor=extractor)
    runtime.embed_raw([ordinary()])  # warm: model traced, workers started
    time.sleep(2)  # the other workers start in the background
    result = {"baseline_mib": _resident_mib(runtime), "after_mib": {}}
    for name, data in list(hostile_images().items())[2:]:
        threads = [
            threading.Thread(target=lambda data=data: [runtime.embed_raw([data]) for _ in range(UPLOADS // THREADS)])
            for _ in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(1)  # let freed memory settle
        result["after_mib"][name] = _resident_mib(runtime)
    runtime.decoder.close()
    return result


def peaks() -> list[dict]:
    """Peak bytes per pixel of decoding each mode, in a fresh process each, against the table."""
    rows = []
    for mode, fmt in (("RGB", "PNG"), ("L", "PNG"), ("RGBA", "PNG"), ("LA", "PNG"), ("I;16", "PNG"), ("CMYK", "JPEG")):
        code = f"from bench.decoding import _peak; print(_peak({mode!r}, {fmt!r}))"
        measured = float(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
        table = images._PEAK_BYTES_PER_PIXEL.get(mode, images._OTHER_MODES_PEAK)
        rows.append({"mode": mode, "format": fmt, "measured": measured, "budgeted": table})
    return rows


def _peak(mode: str, fmt: str) -> float:
    side = (4000, 2500)
    img = Image.new("I;16", side, 1000) if mode == "I;16" else Image.new("RGB", side, (90, 140, 200)).convert(mode)
    data = encode(img, fmt)
    del img
    Path("/proc/self/clear_refs").write_text("5")  # resets the high-water mark
    before = _status_kib("VmRSS")
    images.to_model_input(images.load_image(data))
    return (_status_kib("VmHWM") - before) * 1024 / (side[0] * side[1])


def run() -> dict:
    extractor = FeatureExtractor.load("none")
    result = {"delays": delays(extractor), "throughput": throughput(extractor), "peaks": peaks(), "memory": {}}
    for design in ("previous", "now"):
        code = f"import json; from bench.decoding import memory; print(json.dumps(memory({design!r})))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        result["memory"][design] = json.loads(out.splitlines()[-1])
    result["load_average"] = os.getloadavg()[1]  # over the last 5 minutes: other work on the machine
    result["cores"] = os.cpu_count()
    return result


def throughput(extractor: FeatureExtractor, count: int = 96, batch: int = 32) -> dict:
    """Images per second of ``embed_raw`` on batches of photos (the indexing job's step), both
    designs: decoding in workers costs a round trip per image and gains the workers' parallelism."""
    with tempfile.TemporaryDirectory() as folder:
        photos, source = embedder_bench._images(Path(folder), count)
        paths = [str(p) for p in photos]
        result = {"source": source, "batch": batch}
        for design, runtime in (("previous", PreviousRuntime(None, extractor=extractor)), ("now", _runtime(extractor))):
            runtime.embed_raw(paths[:batch], batch_size=batch)  # traced, workers started
            started = time.perf_counter()
            for first in range(0, count, batch):
                runtime.embed_raw(paths[first : first + batch], batch_size=batch)
            result[design] = count / (time.perf_counter() - started)
            runtime.decoder.close()
    return result


def _runtime(extractor: FeatureExtractor) -> EmbeddingRuntime:
    return EmbeddingRuntime(None, extractor=extractor, decoder=DecodePool())


def _median_seconds(call, repeat: int = 5) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _status_kib(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _resident_mib(runtime: EmbeddingRuntime) -> dict:
    workers = [w.process.pid for w in runtime.decoder._idle]
    return {
        "process": _status_kib("VmRSS") / 1024,
        "workers": sum(_status_kib("VmRSS", str(pid)) for pid in workers) / 1024,
    }


def section(r: dict) -> str:
    lines = [
        "## Hostile images (decoding)\n",
        "`python -m bench.decoding`, results in `bench/results-decoding.json`. *Previous*: images decoded in the "
        "requesting thread under the model lock, only their pixel count checked from the headers; *now*: "
        "refused from their headers (memory by mode, scans, frames), else decoded in worker processes, the "
        "lock around the forward pass only. An ordinary 640x480 JPEG is embedded alone, then (median of 3) "
        "while another thread embeds the hostile image; its delay is the difference (noise below zero shown "
        "as 0).\n",
        "| hostile image (bytes) | previous: its time | previous: delay to the ordinary one | now: its time "
        "| now: delay | now: refused because |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in r["delays"]:
        old, new = row["previous"], row["now"]
        reason = new["refused"].split(": ", 1)[-1] or "decoded"
        lines.append(
            f"| {row['image']} ({row['bytes']:,}) | {old['seconds']:.2f} s | {_delay(old)} "
            f"| {new['seconds']:.2f} s | {_delay(new)} | {reason} |"
        )
    worst_old = max(max(row["previous"]["delay_s"], 0) for row in r["delays"])
    worst_new = max(max(row["now"]["delay_s"], 0) for row in r["delays"])
    lines.append(
        f"\nWorst delay to an unrelated request: {worst_old:.2f} s before, {worst_new:.2f} s now "
        f"(the goal: about 1 s; {'met' if worst_new <= 1.0 else '**missed**'}).\n"
    )
    lines += [
        f"Resident memory (MiB) of the process, warm, and after {UPLOADS} uploads of each large image in "
        f"turn from {THREADS} threads (each design in a fresh process):\n",
        "| design | warm | after the 40 Mpx RGBA PNG | after the 25 Mpx one | after / warm | decode workers, after |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for design, m in r["memory"].items():
        base, (first, last) = m["baseline_mib"], m["after_mib"].values()
        lines.append(
            f"| {design} | {base['process']:.0f} | {first['process']:.0f} | {last['process']:.0f} "
            f"| {last['process'] / base['process']:.2f}x | {last['workers']:.0f} (warm {base['workers']:.0f}) |"
        )
    t = r["throughput"]
    lines += [
        f"\nThe machine's load average was {r['load_average']:.1f} on {r['cores']} cores during the run (other work "
        "ran beside it): absolute times are inflated, and both designs ran under the same load.\n",
        f"Throughput of the indexing job's embedding step, batches of {t['batch']} ({t['source']}): "
        f"{t['previous']:.1f} img/s before, {t['now']:.1f} img/s now ({_ratio(t['now'], t['previous'])}).\n",
        "Peak bytes per pixel of a decode, measured in a fresh process, against the budget's table "
        "(`embedder/images.py`):\n",
        "| mode (format) | measured | budgeted | budget / measured |",
        "|---|---:|---:|---:|",
    ]
    for p in r["peaks"]:
        ratio = _ratio(p["budgeted"], p["measured"])
        lines.append(f"| {p['mode']} ({p['format']}) | {p['measured']:.1f} | {p['budgeted']} | {ratio} |")
    under = [p["mode"] for p in r["peaks"] if p["budgeted"] < p["measured"]]
    lines.append(f"\nModes whose budget is under their measured peak: {', '.join(under) or 'none'}.")
    return "\n".join(lines) + "\n"


def _delay(d: dict) -> str:
    return f"{max(d['delay_s'], 0):.2f} s"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0.005 else "n/a"


def write(results: dict) -> None:
    (FOLDER / "results-decoding.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    outcome = run()
    write(outcome)
    print(section(outcome))
