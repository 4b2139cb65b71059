"""Markdown tables of benchmark results, for the terminal and for the README."""

from __future__ import annotations

from collections.abc import Sequence


def _number(value: float | int | None, digits: int = 2) -> str:
    """A value for a table cell; ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _count(value: int | None) -> str:
    """A count with a k, M or G suffix (``1.80k``, ``77.93M``); ``-`` for None."""
    if value is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}"
    return str(value)


def _rows(header: Sequence[str], rows: list[list[str]]) -> str:
    """A markdown table with right-aligned numbers."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def latency_table(records: Sequence[dict]) -> str:
    """Return one markdown row per latency record.

    Columns: stage, backend, precision (the graph file's), threads, batch, K, p50, p90, p99
    and mean in ms, throughput with its unit, parameters and MACs per call (k, M, G suffixes).

    Args:
        records: The records of :func:`~maskaudit.bench.runner.run_bench`.

    Returns:
        The table ("no measurements" when there are no records).
    """
    if not records:
        return "no measurements"
    header = [
        "stage",
        "backend",
        "precision",
        "threads",
        "batch",
        "K",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "mean ms",
        "throughput",
        "params",
        "MACs",
    ]
    rows = []
    for r in records:
        precision = r.get("graph_precision") or r.get("precision")
        rows.append(
            [
                r["stage"],
                r.get("backend") or "-",
                precision or "-",
                str(r["threads"]),
                str(r["batch"]),
                _number(r.get("k")),
                _number(r["p50_ms"]),
                _number(r["p90_ms"]),
                _number(r["p99_ms"]),
                _number(r["mean_ms"]),
                f"{_number(r['throughput'], 1)} {r['throughput_unit']}",
                _count(r.get("parameters")),
                _count(r.get("macs")),
            ]
        )
    return _rows(header, rows)


def _side(record: dict, side: str) -> str:
    """``backend/precision/threads`` of one side of a comparison record."""
    ran = record[side]
    precision = ran.get("graph_precision") or ran.get("precision")
    if ran.get("backend") is None:
        return f"{ran['threads']}t"
    return f"{ran['backend']}/{precision}/{ran['threads']}t"


def comparison_table(records: Sequence[dict]) -> str:
    """Return one markdown row per comparison record.

    Columns: stage, batch, K, A and B (what ran and their p50 over all repetitions), the
    speed-up of A over B (median B/A per repetition, with its interquartile range) and the
    number of repetitions.

    Args:
        records: The records of :func:`~maskaudit.bench.runner.run_comparison`.

    Returns:
        The table ("no measurements" when there are no records).
    """
    if not records:
        return "no measurements"
    header = ["stage", "batch", "K", "A", "A p50 ms", "B", "B p50 ms", "A speed-up", "IQR", "reps"]
    rows = []
    for r in records:
        speedup = r["speedup"]
        rows.append(
            [
                r["stage"],
                str(r["batch"]),
                _number(r.get("k")),
                _side(r, "a"),
                _number(r["a"]["p50_ms"]),
                _side(r, "b"),
                _number(r["b"]["p50_ms"]),
                f"{speedup['median']:.2f}x",
                f"{speedup['q25']:.2f}-{speedup['q75']:.2f}",
                str(r["repetitions"]),
            ]
        )
    return _rows(header, rows)
