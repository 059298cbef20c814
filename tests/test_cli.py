"""The ``lookalike`` command as a user runs it: progress, a kill in the middle, a resume, search."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from embedder.samples import generate_catalog

PRODUCTS = 300


def lookalike(*args: str, url: str) -> list[str]:
    return [sys.executable, "-m", "embedder.cli", "--solr", url.rsplit("/", 1)[0], *args]


def test_help_starts_without_tensorflow():
    code = "import sys, embedder.cli; embedder.cli._parser(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_index_shows_progress_survives_a_kill_and_resumes(index, tmp_path):
    catalog = generate_catalog(tmp_path / "catalog", variants=PRODUCTS // 60)
    command = lookalike(
        "index",
        str(catalog),
        "--weights",
        "none",
        "--fit-sample",
        "64",
        "--batch-size",
        "16",
        "--report",
        str(tmp_path / "report.jsonl"),
        url=index.url,
    )
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    seen, progress = "", 0
    deadline = time.monotonic() + 300
    while progress < 96 and time.monotonic() < deadline:
        chunk = os.read(process.stderr.fileno(), 4096).decode(errors="replace")
        assert chunk, f"the job ended before it was killed:\n{seen}"
        seen += chunk
        counts = re.findall(r"indexing:.*?(\d+)/300", seen)
        progress = int(counts[-1]) if counts else 0
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert "img/s" in seen  # the progress bar shows the rate

    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    indexed, skipped = map(int, re.search(r"added (\d+), .*unchanged (\d+)", done.stdout).groups())
    assert skipped >= 96 and indexed + skipped == PRODUCTS
    index.commit()
    assert index.count() == PRODUCTS

    search = subprocess.run(
        lookalike("search", "--id", "SKU0001", "--fq", "category:tshirt", "-k", "4", url=index.url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert search.returncode == 0, search.stderr
    rows = search.stdout.strip().splitlines()[1:]
    assert len(rows) == 4 and all(re.match(r"SKU\d{4} ", row) and "tshirt" in row for row in rows)


def test_errors_are_one_clear_line(index, tmp_path):
    out = subprocess.run(
        lookalike("index", str(tmp_path / "nope.csv"), "--weights", "none", url=index.url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("lookalike: error:")


def test_two_shard_workers_split_one_catalog(index, tmp_path):
    catalog = generate_catalog(tmp_path / "catalog")
    counts = []
    for shard in ("0/2", "1/2"):
        command = lookalike(
            "index",
            str(catalog),
            "--weights",
            "none",
            "--shard",
            shard,
            "--no-progress",
            "--report",
            str(tmp_path / "r.jsonl"),
            url=index.url,
        )
        out = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        counts.append(int(re.search(r"added (\d+), .*unchanged 0", out.stdout).group(1)))
    assert all(10 < c < 50 for c in counts) and sum(counts) == 60
    index.commit()
    assert index.count() == 60
