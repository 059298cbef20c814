"""Where a request's time goes inside Solr: the JVM's own sampling profiler (JDK Flight Recorder)
records Solr while one query type's requests run, and its samples of the request threads become
folded stacks and a flame graph (SVG) beside the report, and the report's table of the frames
the time is spent in.

Bounded: at most MAX_REQUESTS requests or RECORD_S seconds per recording.
"""

from __future__ import annotations

import html
import logging
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.contenders import Case, SolrSearch, cases, visual_request
from bench.dataset import Queries
from bench.solr_bench import CORES, BenchSolr

log = logging.getLogger(__name__)
FOLDER = Path(__file__).resolve().parent  # beside the report
PROFILED = ("unfiltered", "filter1")  # the slowest exact type, and the one nearest the per-request floor
MAX_REQUESTS = 400
RECORD_S = 12.0
STACK_DEPTH = 128
REQUEST_THREAD = re.compile(r'sampledThread = "(qtp|h2sc)')  # Jetty's request threads
FRAME = re.compile(r"^\s+([\w$.<>]+)\(")
WHERE = (  # a frame's package, for the table: the first prefix that matches
    ("io.lookalike.", "the plugin"),
    ("org.apache.lucene.", "Lucene"),
    ("org.apache.solr.", "Solr"),
    ("org.eclipse.jetty.", "Jetty"),
)


def run(solr: BenchSolr, queries: Queries, max_dist: float) -> dict:
    """Recordings of Solr answering ``{!visual}`` of each PROFILED type on the visual core as it
    is (the largest N), on queries jittered so that none repeats (a repeat would come from the
    queryResultCache)."""
    search = SolrSearch(solr.url("visual"))
    rng = np.random.default_rng(3)
    profiles = {}
    for kind in PROFILED:
        base = cases(queries, kind, max_dist, lambda q: None)
        todo = [
            replace(case, vector=(case.vector + rng.normal(0, 1e-3, case.vector.shape)).astype(np.float32))
            for _ in range(MAX_REQUESTS // len(base) + 1)
            for case in base
        ]
        log.info("profiling %s at N=%d", kind, solr.count("visual"))
        profiles[kind] = record(
            solr.solr.pid(), lambda c: search(visual_request(c, CORES["visual"])), todo, FOLDER, kind
        )
    return profiles


def record(pid: int, search: Callable[[Case], object], todo: list[Case], folder: Path, name: str) -> dict:
    """Runs ``todo`` (cycled, bounded) under a recording of the JVM ``pid``; writes
    ``profile-<name>.folded`` and ``profile-<name>.svg`` into ``folder``; returns the summary."""
    recording = folder / f"profile-{name}.jfr"
    _jcmd(pid, "JFR.start", f"name={name}", "settings=profile")
    started, requests = time.perf_counter(), 0
    try:
        while requests < MAX_REQUESTS and time.perf_counter() - started < RECORD_S:
            search(todo[requests % len(todo)])
            requests += 1
    finally:
        _jcmd(pid, "JFR.dump", f"name={name}", f"filename={recording}")
        _jcmd(pid, "JFR.stop", f"name={name}")
    stacks = folded(recording)
    recording.unlink()
    (folder / f"profile-{name}.folded").write_text("".join(f"{s} {n}\n" for s, n in stacks.most_common()))
    (folder / f"profile-{name}.svg").write_text(flame_graph(stacks, name))
    return summary(stacks, requests, time.perf_counter() - started)


def _jcmd(pid: int, *command: str) -> None:
    subprocess.run(["jcmd", str(pid), *command], check=True, capture_output=True, timeout=120)


def folded(recording: Path) -> Counter[str]:
    """The request threads' sampled stacks, root first, frames joined by ';', with their counts."""
    printed = subprocess.run(
        ["jfr", "print", "--events", "jdk.ExecutionSample", "--stack-depth", str(STACK_DEPTH), str(recording)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    stacks: Counter[str] = Counter()
    for event in printed.split("jdk.ExecutionSample")[1:]:
        if REQUEST_THREAD.search(event):
            frames = [m.group(1) for line in event.splitlines() if (m := FRAME.match(line))]
            if frames:
                stacks[";".join(reversed(frames))] += 1
    return stacks


def summary(stacks: Counter[str], requests: int, seconds: float, top: int = 12) -> dict:
    """Samples by where the sampled frame runs, and the frames most often on top of the stack."""
    total = sum(stacks.values())
    own: Counter[str] = Counter()
    where: Counter[str] = Counter()
    for stack, count in stacks.items():
        frame = stack.rsplit(";", 1)[-1]
        own[frame] += count
        where[next((label for prefix, label in WHERE if frame.startswith(prefix)), "the JDK and others")] += count
    return {
        "requests": requests,
        "seconds": seconds,
        "samples": total,
        "where": {k: v / total for k, v in where.most_common()} if total else {},
        "top": [(frame, count / total) for frame, count in own.most_common(top)] if total else [],
    }


def flame_graph(stacks: Counter[str], title: str, width: int = 1200, row: int = 16) -> str:
    """An SVG flame graph of folded stacks: one box per frame, as wide as its samples."""
    tree: dict = {}
    for stack, count in stacks.items():
        node = tree
        for frame in stack.split(";"):
            child = node.setdefault(frame, {"count": 0, "children": {}})
            child["count"] += count
            node = child["children"]
    total = max(1, sum(stacks.values()))
    boxes: list[str] = []
    depth = 0

    def draw(children: dict, x: float, level: int) -> None:
        nonlocal depth
        depth = max(depth, level + 1)
        for frame, child in sorted(children.items()):
            w = child["count"] / total * width
            if w >= 0.5:
                label = html.escape(
                    frame.rsplit(".", 2)[-2] + "." + frame.rsplit(".", 1)[-1] if "." in frame else frame
                )
                share = f"{frame} ({child['count']} samples, {child['count'] / total:.1%})"
                boxes.append(
                    f'<g><title>{html.escape(share)}</title><rect x="{x:.1f}" y="{{y{level}}}" width="{w:.1f}" '
                    f'height="{row - 1}" fill="{_colour(frame)}"/>'
                    + (f'<text x="{x + 2:.1f}" y="{{t{level}}}">{label[: int(w / 7)]}</text>' if w > 30 else "")
                    + "</g>"
                )
                draw(child["children"], x, level + 1)
            x += w

    draw(tree, 0.0, 0)
    height = (depth + 2) * row
    rows = {f"y{level}": height - (level + 1) * row for level in range(depth)}
    rows |= {f"t{level}": height - (level + 1) * row + row - 4 for level in range(depth)}
    body = "\n".join(box.format(**rows) for box in boxes)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" '
        f'font-size="11"><text x="4" y="12">{html.escape(title)}: {total} samples of Solr\'s request threads '
        f"(JFR)</text>\n{body}\n</svg>\n"
    )


def _colour(frame: str) -> str:
    for (prefix, _), colour in zip(WHERE, ("#e8743b", "#f2c14e", "#8ab17d", "#7aa5d8")):
        if frame.startswith(prefix):
            return colour
    return "#cccccc"


def section(profiles: dict | None) -> str:
    title = "## Where a request's time goes inside Solr (JFR samples)\n"
    if not profiles:
        return f"{title}\nNot recorded in this run.\n"
    lines = [
        title,
        "Solr's request threads, sampled by JDK Flight Recorder (`settings=profile`) while one query type ran "
        "alone at the largest N. Flame graphs: "
        + ", ".join(f"[{name}](profile-{name}.svg)" for name in profiles)
        + " (folded stacks beside them).\n",
    ]
    for name, p in profiles.items():
        shares = ", ".join(f"{label} {share:.0%}" for label, share in p["where"].items())
        lines.append(
            f"**{name}**: {p['samples']} samples over {p['requests']} requests in {p['seconds']:.1f} s; "
            f"where the sampled frame runs: {shares}.\n"
        )
        lines += ["| frame on top of the stack | share of samples |", "|---|---:|"]
        lines += [f"| `{frame}` | {share:.1%} |" for frame, share in p["top"]]
        lines.append("")
    return "\n".join(lines) + "\n"
