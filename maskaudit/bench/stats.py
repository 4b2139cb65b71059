"""Latency summaries and the ratio of two interleaved configurations.

Percentiles use linear interpolation between the sorted samples (numpy's default), so they are
ordered (p50 <= p90 <= p95 <= p99) for any sample, and with few samples the high percentiles
lie between the largest values rather than on the maximum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
"""The latency percentiles every record carries (as ``p50_ms`` ...)."""


def summarise(latencies_ms: Sequence[float] | np.ndarray, items_per_call: int = 1) -> dict:
    """Summarise timed calls: percentiles, mean, spread and throughput.

    Args:
        latencies_ms: The latency of each timed call, in milliseconds (at least one).
        items_per_call: Units each call handles (frames, windows, masks), for the throughput.
            Defaults to 1.

    Returns:
        ``{"p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms",
        "throughput", "samples"}``; ``throughput`` is ``items_per_call`` divided by the mean
        latency, in units per second (one call after another, as a single stream runs).

    Raises:
        ValueError: If there are no latencies or one is negative or not finite.

    Example:
        >>> summarise([1.0, 2.0, 3.0])["p50_ms"]
        2.0
    """
    values = np.asarray(latencies_ms, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("no latencies to summarise: time at least one call")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("latencies must be finite and non-negative")
    out = {f"p{p}_ms": float(np.percentile(values, p)) for p in PERCENTILES}
    mean = float(values.mean())
    out.update(
        mean_ms=mean,
        std_ms=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        min_ms=float(values.min()),
        max_ms=float(values.max()),
        throughput=float(items_per_call * 1e3 / mean) if mean > 0 else None,
        samples=int(values.size),
    )
    return out


def ratio_spread(
    a_ms: Sequence[Sequence[float]] | np.ndarray, b_ms: Sequence[Sequence[float]] | np.ndarray
) -> dict:
    """Compare two configurations timed in the same repetitions.

    Repetition r holds the timed calls of A and of B that ran back to back; its ratio is the
    median latency of A over the median latency of B in that repetition. A change in machine
    load between repetitions touches both alike, so the ratios vary far less than the
    latencies do.

    Args:
        a_ms: Per repetition, the latencies of A in milliseconds.
        b_ms: Per repetition, the latencies of B, as many repetitions as ``a_ms``.

    Returns:
        ``{"latency_ratio": {"median", "q25", "q75", "min", "max", "per_repetition"},
        "speedup": {...}, "repetitions"}``: ``latency_ratio`` is A/B (below 1: A is faster);
        ``speedup`` is B/A (above 1: A is faster), with the same spread statistics.

    Raises:
        ValueError: If the repetitions differ in number, or one is empty or not positive.

    Example:
        >>> ratio_spread([[1.0, 1.0], [2.0, 2.0]], [[2.0, 2.0], [4.0, 4.0]])["speedup"]["median"]
        2.0
    """
    if len(a_ms) != len(b_ms) or len(a_ms) == 0:
        raise ValueError(
            f"{len(a_ms)} repetitions of A but {len(b_ms)} of B: time both in every repetition"
        )
    a_med = np.array([_median(r, "A") for r in a_ms])
    b_med = np.array([_median(r, "B") for r in b_ms])
    ratios = a_med / b_med
    return {
        "latency_ratio": spread(ratios),
        "speedup": spread(1.0 / ratios),
        "repetitions": int(ratios.size),
    }


def _median(values: Sequence[float], name: str) -> float:
    """The median of one repetition's latencies, which must be positive."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError(f"a repetition of {name} has no timed calls")
    median = float(np.median(array))
    if not median > 0:
        raise ValueError(f"a repetition of {name} has a median latency of {median} ms")
    return median


def spread(values: np.ndarray | list[float]) -> dict:
    """Return the median, quartiles, range and every value of per-repetition numbers.

    Args:
        values: One number per repetition.

    Returns:
        ``median``, ``q25``, ``q75``, ``min``, ``max`` and ``per_repetition``.
    """
    values = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(values)),
        "q25": float(np.percentile(values, 25)),
        "q75": float(np.percentile(values, 75)),
        "min": float(values.min()),
        "max": float(values.max()),
        "per_repetition": [float(v) for v in values],
    }
