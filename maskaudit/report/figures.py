"""The report's figures, drawn with matplotlib's Agg renderer and written as PNG files.

Figures are built with ``matplotlib.figure.Figure`` directly (no ``pyplot``), so drawing them
changes no global matplotlib state and needs no display. matplotlib is imported when a figure
is drawn; it comes with the ``report`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.report.numbers import ReliabilityBin, risk_coverage, row_normalise

DPI = 110
"""Resolution of every PNG."""

SCATTER_POINTS = 20000
"""Most points drawn in the IoU scatter (an even draw beyond that; the curve uses all)."""

METHOD_COLOURS: dict[str, str] = {
    "maskaudit": "#1f5fa8",
    "geometry": "#d2691e",
    "prior": "#7f7f7f",
}
"""Line colours of the methods in the risk-coverage figure."""


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(figure: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.savefig(path, format="png")
    return path


def iou_scatter(
    pred: Sequence[float],
    true: Sequence[float],
    bins: Sequence[ReliabilityBin],
    path: Path,
    title: str,
) -> Path:
    """Draw predicted against true IoU with the reliability curve and the diagonal.

    Args:
        pred: Predicted IoU of each mask.
        true: True IoU of each mask.
        bins: Reliability bins of the same masks (``numbers.reliability_bins``).
        path: The PNG to write.
        title: The figure's title.

    Returns:
        ``path``.
    """
    pred_arr = np.asarray(pred, dtype=np.float64)
    true_arr = np.asarray(true, dtype=np.float64)
    if len(pred_arr) > SCATTER_POINTS:
        keep = np.linspace(0, len(pred_arr) - 1, SCATTER_POINTS).astype(np.int64)
        pred_arr, true_arr = pred_arr[keep], true_arr[keep]
    figure = _figure(5.6, 5.6)
    ax = figure.add_subplot()
    alpha = float(np.clip(400.0 / max(len(pred_arr), 1), 0.08, 0.8))
    ax.scatter(pred_arr, true_arr, s=6, alpha=alpha, color="#1f5fa8", linewidths=0, label="masks")
    ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="perfect calibration")
    filled = [b for b in bins if b.n > 0]
    ax.plot(
        [b.mean_pred for b in filled],
        [b.mean_true for b in filled],
        color="#c0392b",
        marker="o",
        linewidth=2,
        label="mean true IoU per predicted-IoU bin",
    )
    ax.set_xlim(-0.02, 1.02)  # masks of true IoU 0 or 1 sit on the edges: keep them visible
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted IoU")
    ax.set_ylabel("true IoU")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # below the axes: masks of true IoU 0 and 1 line the plot's edges, where a legend would hide
    figure.legend(loc="outside lower center", ncols=2, fontsize=8)
    return _save(figure, path)


def confusion_matrix(
    counts: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    path: Path,
    title: str,
) -> Path:
    """Draw a confusion matrix coloured by the share of each true row, with counts written in.

    Args:
        counts: Counts [rows, columns] (``numbers.confusion_counts``).
        rows: True labels, one per row.
        columns: Predicted labels, one per column.
        path: The PNG to write.
        title: The figure's title.

    Returns:
        ``path``.
    """
    counts = np.asarray(counts)
    shares = row_normalise(counts)
    figure = _figure(1.2 + 1.05 * len(columns), 1.2 + 0.8 * len(rows))
    ax = figure.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for r in range(counts.shape[0]):
        for c in range(counts.shape[1]):
            colour = "white" if shares[r, c] > 0.6 else "black"
            ax.text(
                c,
                r,
                f"{counts[r, c]}\n{100 * shares[r, c]:.0f}%",
                ha="center",
                va="center",
                fontsize=8,
                color=colour,
            )
    ax.set_xticks(range(len(columns)), labels=list(columns), rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    figure.colorbar(image, ax=ax, label="share of the true row", shrink=0.8)
    return _save(figure, path)


def risk_coverage_curves(
    methods: Mapping[str, Sequence[float]],
    true: Sequence[float],
    aurc: Mapping[str, float],
    path: Path,
    title: str,
) -> Path:
    """Draw the failure risk against coverage for each method, and the oracle's curve.

    Args:
        methods: Method name to the predicted IoU of each mask.
        true: True IoU of each mask.
        aurc: Method name to its AURC, for the legend.
        path: The PNG to write.
        title: The figure's title.

    Returns:
        ``path``.
    """
    figure = _figure(6.0, 4.4)
    ax = figure.add_subplot()
    for name, pred in methods.items():
        coverage, risk = risk_coverage(pred, true)
        area = aurc.get(name, math.nan)
        ax.plot(
            coverage,
            risk,
            color=METHOD_COLOURS.get(name),
            linewidth=2,
            label=f"{name} (AURC {area:.3f})",
        )
    coverage, risk = risk_coverage(true, true)
    best = float(np.mean(risk)) if len(risk) else math.nan
    ax.plot(
        coverage,
        risk,
        color="black",
        linestyle=":",
        linewidth=1.5,
        label=f"oracle: true IoU order (AURC {best:.3f})",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("coverage (share of masks accepted, highest predicted IoU first)")
    ax.set_ylabel("risk (share of accepted masks with IoU < 0.5)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _save(figure, path)


def latency_histogram(
    latencies_ms: Sequence[float], percentiles: Mapping[str, float], path: Path, title: str
) -> Path:
    """Draw the histogram of per-frame latencies with the percentiles marked.

    Args:
        latencies_ms: Latency of each frame, in milliseconds.
        percentiles: ``{"p50": ms, "p90": ms, "p99": ms, ...}``; keys starting with ``p`` are
            drawn as vertical lines.
        path: The PNG to write.
        title: The figure's title.

    Returns:
        ``path``.
    """
    values = np.asarray(latencies_ms, dtype=np.float64)
    values = values[np.isfinite(values)]
    figure = _figure(6.0, 3.8)
    ax = figure.add_subplot()
    ax.hist(values, bins=min(60, max(10, len(values) // 5)), color="#1f5fa8", alpha=0.8)
    styles = ("--", "-.", ":")
    marks = [(k, v) for k, v in percentiles.items() if k.startswith("p") and math.isfinite(v)]
    for i, (name, value) in enumerate(marks):
        ax.axvline(
            value,
            color="#c0392b",
            linestyle=styles[i % len(styles)],
            linewidth=1.5,
            label=f"{name} {value:.1f} ms",
        )
    ax.set_xlabel("latency per frame (ms)")
    ax.set_ylabel("frames")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if marks:
        ax.legend(fontsize=8)
    return _save(figure, path)
