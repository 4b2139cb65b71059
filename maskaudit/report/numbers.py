"""The numbers behind the report's figures.

Even draws, reliability bins, confusion counts, risk-coverage curves and latency percentiles.
Everything here is plain numpy on plain sequences, so each function can be checked on
hand-made inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from maskaudit.eval.metrics import FAILURE_IOU, fill_unparsed

OTHER = "other"
"""Confusion-matrix column of predictions outside the label list (unparsed or unlisted)."""

PERCENTILES: tuple[int, ...] = (50, 90, 99)
"""Latency percentiles the report marks."""


def even_indices(total: int, count: int) -> np.ndarray:
    """Return ``count`` distinct indices spread evenly over ``range(total)``, in order.

    Index ``i`` of the draw is ``floor(i * total / count)``, so the first item is always kept
    and the gaps differ by at most one.

    Args:
        total: Items to draw from.
        count: Items to draw; at least ``total`` keeps every item.

    Returns:
        int64 indices, increasing.

    Example:
        >>> even_indices(10, 4).tolist()
        [0, 2, 5, 7]
    """
    if total <= 0 or count <= 0:
        return np.zeros(0, dtype=np.int64)
    count = min(count, total)
    return (np.arange(count, dtype=np.int64) * total) // count


def draw_groups(sizes: Sequence[int], limit: int | None) -> list[int]:
    """Draw whole groups evenly so that their sizes sum to at most ``limit``.

    Used to score at most ``limit`` candidates of a split while keeping each frame's
    candidates together: the groups are the (expression, frame) items of a split.

    Args:
        sizes: Size of each group (candidates per item).
        limit: Most items in all drawn groups; None keeps every group.

    Returns:
        Indices of the drawn groups, increasing: the most evenly spread draw (see
        ``even_indices``) of as many groups as fit.

    Example:
        >>> draw_groups([3, 3, 3, 3], 7)
        [0, 2]
    """
    total = int(sum(sizes))
    if limit is None or limit >= total:
        return list(range(len(sizes)))
    if limit <= 0:
        return []
    sizes_arr = np.asarray(sizes, dtype=np.int64)
    count = len(sizes) * limit // total
    while count > 0:
        picked = even_indices(len(sizes), count)
        if int(sizes_arr[picked].sum()) <= limit:
            return picked.tolist()
        count -= 1
    return []


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of predicted IoU and the true IoU of the masks in it.

    Attributes:
        low: Lower edge (inclusive).
        high: Upper edge (exclusive, but inclusive for the last bin).
        n: Masks whose predicted IoU falls in the bin.
        mean_pred: Their mean predicted IoU (``nan`` when empty).
        mean_true: Their mean true IoU (``nan`` when empty).
    """

    low: float
    high: float
    n: int
    mean_pred: float
    mean_true: float


def reliability_bins(
    pred: Sequence[float | None], true: Sequence[float], bins: int = 10
) -> list[ReliabilityBin]:
    """Bin masks by predicted IoU and average the true IoU in each bin.

    A perfectly calibrated IoU estimate has ``mean_true == mean_pred`` in every bin (the
    reliability curve lies on the diagonal).

    Args:
        pred: Predicted IoUs in [0, 1]; an unparsed one (``None``) counts as 0, as the
            protocol's RMSE counts it.
        true: True IoUs, same length.
        bins: Equal-width bins over [0, 1]. Defaults to 10.

    Returns:
        ``bins`` bins from 0 up.

    Raises:
        ValueError: If the lengths differ or ``bins`` is below 1.
    """
    if len(pred) != len(true):
        raise ValueError(f"pred and true differ in length: {len(pred)} and {len(true)}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    pred_arr = np.clip(fill_unparsed(pred), 0.0, 1.0)
    true_arr = np.asarray(true, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.minimum((pred_arr * bins).astype(np.int64), bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        out.append(
            ReliabilityBin(
                low=float(edges[b]),
                high=float(edges[b + 1]),
                n=n,
                mean_pred=float(pred_arr[inside].mean()) if n else math.nan,
                mean_true=float(true_arr[inside].mean()) if n else math.nan,
            )
        )
    return out


def confusion_counts(
    true: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Count true label (rows) against predicted label (columns).

    Args:
        true: True labels, each one of ``labels``.
        pred: Predicted labels; ``None`` (unparsed) or a label outside ``labels`` is counted in
            an extra last column ``other``, present only when some prediction needs it.
        labels: The label list, in display order.

    Returns:
        (int64 counts [len(labels), columns], column labels).

    Raises:
        ValueError: If the lengths differ or a true label is not in ``labels``.

    Example:
        >>> counts, columns = confusion_counts(["a", "a", "b"], ["a", "b", None], ["a", "b"])
        >>> counts.tolist(), columns
        ([[1, 1, 0], [0, 0, 1]], ['a', 'b', 'other'])
    """
    if len(true) != len(pred):
        raise ValueError(f"true and pred differ in length: {len(true)} and {len(pred)}")
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({t for t in true if t not in index})
    if unknown:
        raise ValueError(f"true labels {unknown} are not in the label list {list(labels)}")
    other = any(p not in index for p in pred)
    columns = [*labels, OTHER] if other else list(labels)
    counts = np.zeros((len(labels), len(columns)), dtype=np.int64)
    for t, p in zip(true, pred, strict=True):
        counts[index[t], index.get(p, len(labels))] += 1
    return counts, columns


def row_normalise(counts: np.ndarray) -> np.ndarray:
    """Divide each row of a confusion matrix by its sum (a row without items stays 0).

    Args:
        counts: Counts [rows, columns].

    Returns:
        float64 fractions of the same shape; each non-empty row sums to 1.
    """
    counts = np.asarray(counts, dtype=np.float64)
    sums = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)


def risk_coverage(
    pred: Sequence[float | None], true: Sequence[float], threshold: float = FAILURE_IOU
) -> tuple[np.ndarray, np.ndarray]:
    """Return the risk-coverage curve of accepting masks from the highest predicted IoU down.

    At coverage ``k / n`` the risk is the fraction of failures (true IoU below ``threshold``)
    among the ``k`` masks accepted first. Masks of equal predicted IoU are accepted together
    in expectation over their orders, so the mean of the risks is exactly the protocol's AURC
    (``maskaudit.eval.metrics.aurc`` with ``risk="failure"``).

    Args:
        pred: Predicted IoUs; an unparsed one (``None``) counts as 0.
        true: True IoUs, same length.
        threshold: A mask fails below this true IoU. Defaults to 0.5 (the protocol's).

    Returns:
        (coverage [n] from 1/n to 1, risk [n]); both empty with no masks.

    Raises:
        ValueError: If the lengths differ.

    Example:
        >>> cov, risk = risk_coverage([0.9, 0.2], [0.8, 0.1])
        >>> cov.tolist(), risk.tolist()
        ([0.5, 1.0], [0.0, 0.5])
    """
    if len(pred) != len(true):
        raise ValueError(f"pred and true differ in length: {len(pred)} and {len(true)}")
    n = len(pred)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    conf = fill_unparsed(pred)
    fails = (np.asarray(true, dtype=np.float64) < threshold).astype(np.float64)
    order = np.argsort(-conf, kind="stable")
    conf, fails = conf[order], fails[order]
    _, starts, sizes = np.unique(-conf, return_index=True, return_counts=True)
    fails = np.repeat(np.add.reduceat(fails, starts) / sizes, sizes)
    accepted = np.arange(1, n + 1, dtype=np.float64)
    return accepted / n, np.cumsum(fails) / accepted


def latency_percentiles(
    latencies_ms: Sequence[float], percentiles: Sequence[int] = PERCENTILES
) -> dict[str, float]:
    """Return latency percentiles and the mean, ignoring ``nan``.

    Args:
        latencies_ms: Per-frame latencies in milliseconds.
        percentiles: Which percentiles. Defaults to ``PERCENTILES`` (50, 90, 99).

    Returns:
        ``{"p50": ..., "p90": ..., "p99": ..., "mean": ..., "frames": n}``; values are ``nan``
        when there is no finite latency.

    Example:
        >>> latency_percentiles([1.0, 2.0, 3.0], (50,))
        {'p50': 2.0, 'mean': 2.0, 'frames': 3}
    """
    values = np.asarray(latencies_ms, dtype=np.float64)
    values = values[np.isfinite(values)]
    out: dict[str, float] = {}
    for q in percentiles:
        out[f"p{q}"] = float(np.percentile(values, q)) if values.size else math.nan
    out["mean"] = float(values.mean()) if values.size else math.nan
    out["frames"] = int(values.size)
    return out
