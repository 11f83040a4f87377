"""The chart README shows: speedup over sequential vs workers, one line per contender."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.bound import BoundRow
from bench.summary import ThroughputRow

LINES = (  # contender, label, style
    ("pipeline", "pipeline (warm fleet)", {"color": "tab:blue", "marker": "o", "linewidth": 2.2}),
    ("asyncio", "asyncio.gather + semaphore", {"color": "tab:green", "marker": "s", "linestyle": "--"}),
    ("batch-barrier", "batch barrier (original design)", {"color": "tab:red", "marker": "^"}),
)
INSTALL_HINT = "the chart needs matplotlib: pip install 'karaoke-pipeline[bench]'"


def _panel(axes: Any, rows: list[ThroughputRow], bounds: list[BoundRow], images: int) -> None:
    """One size: a line per contender, the ideal (speedup = k), the greedy bound, run_parse's cold point."""
    ks = sorted({row.workers for row in rows if row.images == images} | {1})
    axes.plot(ks, ks, color="grey", linestyle=":", label="speedup = k")
    limit = sorted((b.workers, b.speedup) for b in bounds if b.images == images and b.workers in ks)
    if limit:
        axes.plot(
            [k for k, _ in limit],
            [s for _, s in limit],
            color="black",
            linestyle="-.",
            linewidth=1,
            label="zero-overhead greedy bound (same draws)",
        )
    barrier = sorted((b.workers, b.barrier_speedup) for b in bounds if b.images == images and b.workers in ks)
    if barrier:
        axes.plot(*zip(*barrier, strict=True), color="tab:red", linestyle=":", linewidth=1,
                  label="batch barrier with zero overhead (same draws)")  # fmt: skip
    for contender, label, style in LINES:
        points = sorted(
            (r.workers, r.speedup) for r in rows if r.images == images and r.contender == contender
        )
        if points:
            axes.plot([k for k, _ in points], [s for _, s in points], label=label, **style)
    cold = [(r.workers, r.speedup) for r in rows if r.images == images and r.contender == "pipeline-cold"]
    if cold:
        axes.scatter(*zip(*cold, strict=True), color="tab:purple", marker="x", s=70, zorder=3,
                     label="run_parse incl. actor start-up")  # fmt: skip
    axes.set_title(f"{images} images")
    axes.set_xlabel("workers / concurrency k")
    axes.set_xticks(ks)
    axes.grid(alpha=0.3)


def draw_speedup_chart(rows: list[ThroughputRow], bounds: list[BoundRow], path: Path) -> Path:
    """Write a PNG with one panel per size; returns its path."""
    try:
        import matplotlib
    except ImportError as exc:
        raise SystemExit(INSTALL_HINT) from exc
    matplotlib.use("Agg")
    from matplotlib import pyplot

    sizes = sorted({row.images for row in rows})
    figure, panels = pyplot.subplots(1, max(len(sizes), 1), figsize=(5.5 * max(len(sizes), 1), 4.4),
                                     squeeze=False, sharey=True)  # fmt: skip
    for axes, images in zip(panels[0], sizes, strict=False):
        _panel(axes, rows, bounds, images)
    panels[0][0].set_ylabel("speedup over the sequential pipeline")
    panels[0][0].legend(loc="upper left", fontsize=8)
    figure.suptitle("Speedup vs workers on one fake Gemini server (medians)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path
