"""The report's figures, drawn with matplotlib from a results dict (see bench.run)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.exact import TYPES  # noqa: E402
from bench.report_tables import BESIDE, main_contenders  # noqa: E402


def draw(results: dict, folder: Path) -> list[str]:
    """Writes the PNGs into ``folder``; returns their file names."""
    return [_latency_by_type(results, folder), _latency_by_n(results, folder)]


def _latency_by_type(results: dict, folder: Path) -> str:
    point = results["points"][-1]
    names = main_contenders(point)
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs, p50, p95 = [], [], []
        for t, kind in enumerate(TYPES):
            cell = point["cells"].get(f"{name}/{kind}")
            if cell:
                xs.append(t + i * width)
                p50.append(cell["p50_ms"])
                p95.append(cell["p95_ms"] - cell["p50_ms"])
        ax.bar(xs, p50, width, yerr=[[0] * len(p95), p95], label=name, capsize=2)
    ax.set_xticks([t + 0.4 - width / 2 for t in range(len(TYPES))], TYPES)
    ax.set_yscale("log")
    ax.set_ylabel("latency ms (bar p50, whisker p95), log scale")
    ax.set_title(f"Latency per query type, N = {point['n']:,} x 1024-d")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    name = "latency-by-type.png"
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def _latency_by_n(results: dict, folder: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, kind in zip(axes, ("unfiltered", "filter1")):
        series: dict[str, tuple[list[int], list[float]]] = {}
        for point in results["points"]:
            for key, cell in point["cells"].items():
                name, cell_kind = key.split("/")
                if cell_kind == kind and not name.startswith(BESIDE):
                    xs, ys = series.setdefault(name, ([], []))
                    xs.append(point["n"])
                    ys.append(cell["p50_ms"])
        for name, (xs, ys) in sorted(series.items()):
            ax.plot(xs, ys, marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("documents N")
        ax.set_title(f"p50 latency as N grows: {kind}")
    axes[0].set_ylabel("p50 ms, log scale")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    name = "latency-by-n.png"
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name
