"""Run exported graphs in onnxruntime and compare their outputs (no torch needed here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort


def cpu_session(path: str | Path, threads: int = 0, optimize: bool = True) -> ort.InferenceSession:
    """Open an onnxruntime CPU session on a graph file.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads; 0 lets onnxruntime choose. Defaults to 0.
        optimize: Apply onnxruntime's graph optimisations. Off, a QDQ graph runs as written
            (dequantize, float operation, quantize): an exact simulation of INT8 without the
            CPU's integer kernels. Defaults to True.

    Returns:
        The session.
    """
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_graph(
    graph: str | Path | ort.InferenceSession, inputs: Mapping[str, np.ndarray]
) -> list[np.ndarray]:
    """Run a graph once on CPU.

    Args:
        graph: A graph file or an open session.
        inputs: ``{input name: array}``.

    Returns:
        The outputs in the graph's order.
    """
    session = graph if isinstance(graph, ort.InferenceSession) else cpu_session(graph)
    return session.run(None, dict(inputs))


def max_output_difference(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> float:
    """Return the largest difference between two output lists, relative to large outputs.

    Each output's ``max |actual - expected|`` is divided by ``max(1, max |expected|)``, so a
    tolerance reads as absolute for outputs in [-1, 1] (IoU, probabilities) and relative for
    larger feature maps.

    Args:
        actual: Outputs of the graph under test.
        expected: Reference outputs, same shapes.

    Returns:
        The largest scaled difference over all outputs (``inf`` if a shape differs).
    """
    worst = 0.0
    for a, e in zip(actual, expected, strict=True):
        if a.shape != e.shape:
            return float("inf")
        if a.size == 0:
            continue
        e64 = e.astype(np.float64)
        scale = max(1.0, float(np.abs(e64).max()))
        worst = max(worst, float(np.abs(a.astype(np.float64) - e64).max()) / scale)
    return worst


def sqnr_db(reference: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> float:
    """Return the signal-to-quantisation-noise ratio of ``test`` against ``reference`` in dB.

    Arrays are flattened and concatenated first, so arrays of different shapes (e.g. a varying
    candidate count) can be pooled.

    Args:
        reference: The float outputs.
        test: The quantised outputs, same shapes one by one.

    Returns:
        ``20 log10(||reference|| / ||reference - test||)`` over the positions where the
        reference is finite; 200 dB when they are identical, -100 dB when ``test`` has a
        non-finite value there.
    """
    ref = np.concatenate([np.ravel(r).astype(np.float64) for r in reference])
    out = np.concatenate([np.ravel(t).astype(np.float64) for t in test])
    keep = np.isfinite(ref)
    ref, out = ref[keep], out[keep]
    if not np.isfinite(out).all():
        return -100.0
    signal = np.linalg.norm(ref)
    noise = np.linalg.norm(ref - out)
    if noise == 0.0:
        return 200.0
    return float(20.0 * np.log10(max(signal, 1e-30) / noise))
