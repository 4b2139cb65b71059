"""Static INT8 quantization (QDQ) of one graph, keeping the layers INT8 hurts in float.

Steps for one graph:

1. calibrate once on the calibration reader (onnxruntime's calibrator; the ranges are cached in
   a JSON file so later rounds do not calibrate again);
2. quantize with ``onnxruntime.quantization.quantize_static`` in QDQ format: the CPU variant
   with unsigned activations and signed weights, the TensorRT variant with signed, symmetric
   activations and weights (TensorRT accepts only zero points of 0);
3. find the tensors that lose accuracy in INT8 with onnxruntime's QDQ debugging tools (see
   :mod:`maskaudit.export.qdq_debug`: a tensor too noisy in INT8 by itself, or quantized
   tensors whose small error an operation such as a comparison amplifies), exclude the nodes
   that produce and read them from quantization (``nodes_to_exclude``) and quantize again, up
   to ``max_rounds`` times;
4. write the graph with the final exclusions (Relu and Clip folded into the range of the
   output before them, which is exact) and measure its outputs against the float graph.

Per-channel weight scales are used when asked, or, with ``per_channel=None``, when they bring
the outputs closer to the float graph's.

The CPU variant quantizes weights to 7 bits (``reduce_range``) by default. onnxruntime's
unsigned-by-signed 8-bit kernels on x86 CPUs without VNNI (AVX2 only) add pairs of products in
16 bits, which saturates with full 8-bit weights: measured on such a CPU, a random frame
encoder's ``feat1`` fell from 37 dB SQNR (simulated) to 19 dB (run), and with 7-bit weights the
run matched the simulation exactly. The TensorRT variant keeps full 8-bit weights (GPUs
accumulate in 32 bits), and its outputs are measured with onnxruntime's exact QDQ simulation
(graph optimisations off), which is what TensorRT computes up to rounding.

Known limitation: INT8 is not faster than fp32 on every CPU. On an x86 CPU without VNNI (AVX2
only), onnxruntime 1.32 ran the INT8 frame encoder 1.5-1.8x slower than fp32 at one thread (its
INT8 convolutions were slower than the fp32 ones for these small channel counts, and the NHWC
layout they use moved the input normalisation onto a slow broadcast); see
``benchmarks/bench_precision.py`` to measure a machine. CPUs with VNNI or ARM dot-product
instructions, and TensorRT, are where INT8 is meant to pay off (not measured here).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from maskaudit.errors import ConfigError
from maskaudit.export.calibration import SampleReader
from maskaudit.export.parity import cpu_session, sqnr_db
from maskaudit.export.qdq_debug import (
    JUMP_DB,
    find_lossy_tensors,
    nodes_touching,
    tensor_errors,
)

logger = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("minmax", "entropy", "percentile")
"""Calibration methods: the range of each tensor from its extremes, from the histogram that
keeps the most information (KL divergence), or from a high percentile of its magnitudes."""

VARIANTS: tuple[str, ...] = ("cpu", "trt")
"""``cpu``: QUInt8 activations, QInt8 weights (``<graph>.int8.onnx``); ``trt``: QInt8
symmetric activations and weights for TensorRT's explicit quantization
(``<graph>.int8-trt.onnx``)."""

MIN_SQNR_DB = 25.0
"""Default lowest SQNR of a tensor's own quantization; below it the tensor stays in float.
25 dB means a noise of about 5.6% of the tensor's norm."""

DEBUG_SAMPLES = 4
"""Calibration samples the QDQ debugging runs on (every intermediate tensor is kept per
sample, so this is kept small)."""

PERCENTILE = 99.999
"""Percentile of absolute values the ``percentile`` method keeps."""


@dataclass
class ExcludedNode:
    """A node kept in float, and why.

    Attributes:
        node: The node's name in the float graph.
        op_type: Its operator type.
        tensor: The tensor whose INT8 form was too noisy (the node produces or consumes it).
        sqnr_db: That tensor's SQNR in INT8, in dB.
        reason: One sentence for the manifest.
    """

    node: str
    op_type: str
    tensor: str
    sqnr_db: float
    reason: str


@dataclass
class QuantizationResult:
    """What :func:`quantize_graph` wrote and measured.

    Attributes:
        path: The quantized graph.
        variant: ``cpu`` or ``trt``.
        method: The calibration method.
        per_channel: Whether weights have per-channel scales.
        reduce_range: Whether weights use 7 bits.
        excluded: Nodes kept in float, with the reason.
        output_sqnr_db: ``{output: SQNR of the INT8 graph's output against fp32}`` on the
            debugging samples.
        rounds: Debugging rounds run (each quantizes and measures every tensor).
        worst_tensors: The five lowest tensor SQNRs of the final graph, ``{tensor: dB}``.
    """

    path: Path
    variant: str
    method: str
    per_channel: bool
    reduce_range: bool = False
    excluded: list[ExcludedNode] = field(default_factory=list)
    output_sqnr_db: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    worst_tensors: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the result as a JSON-ready dict (the manifest's per-graph calibration)."""
        data = asdict(self)
        data["path"] = self.path.name
        return data


def _method(name: str):
    """Return onnxruntime's ``CalibrationMethod`` for a method name."""
    from onnxruntime.quantization import CalibrationMethod

    table = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if name not in table:
        raise ConfigError(f"unknown calibration method {name!r}: use one of {METHODS}")
    return table[name]


def _stride(count: int, most: int = 16) -> int:
    """Return the largest divisor of ``count`` not above ``most`` (calibration chunk size)."""
    return max(d for d in range(1, min(count, most) + 1) if count % d == 0)


def _quantize(
    source: Path,
    target: Path,
    reader: SampleReader,
    variant: str,
    method: str,
    per_channel: bool,
    exclude: Iterable[str],
    cache: Path,
    reduce_range: bool,
    keep_activations: bool = False,
) -> None:
    """Run ``quantize_static`` once (calibrating only if ``cache`` does not exist yet).

    ``keep_activations`` keeps Relu and Clip nodes with their own Q/DQ pairs (for debugging:
    folding them into the previous output's range hides their effect from the comparison);
    the written graphs fold them, which is exact and saves a Q/DQ pair per activation.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    if variant not in VARIANTS:
        raise ConfigError(f"unknown INT8 variant {variant!r}: use one of {VARIANTS}")
    extra: dict = {
        "CalibStridedMinMax": _stride(len(reader)),
        "CalibPercentile": PERCENTILE,
        "QDQKeepRemovableActivations": keep_activations,
        # LayerNormalization's scale is 1-d: its channels are on axis 0, not the default 1.
        "QDQOpTypePerChannelSupportToAxis": {"LayerNormalization": 0},
    }
    if variant == "trt":
        extra.update(ActivationSymmetric=True, WeightSymmetric=True)
    reader.rewind()
    quantize_static(
        str(source),
        str(target),
        calibration_data_reader=reader,
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8 if variant == "cpu" else QuantType.QInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=sorted(exclude),
        calibrate_method=_method(method),
        extra_options=extra,
        calibration_cache_path=cache,
    )
    reader.rewind()


def output_sqnr(
    float_path: Path, qdq_path: Path, reader: SampleReader, samples: int, simulate: bool = False
) -> dict[str, float]:
    """Return the SQNR of every output of the QDQ graph against the float graph, in dB.

    Args:
        float_path: The float graph.
        qdq_path: Its QDQ graph.
        reader: Samples; the first ``samples`` are used.
        samples: How many samples.
        simulate: Run the QDQ graph with graph optimisations off (exact dequantize, float op,
            quantize) instead of onnxruntime's integer kernels. Defaults to False.

    Returns:
        ``{output name: dB}``.
    """
    import onnxruntime as ort

    reference = cpu_session(float_path)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if simulate:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    quantized = ort.InferenceSession(str(qdq_path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in reference.get_outputs()]
    ref_out: dict[str, list[np.ndarray]] = {n: [] for n in names}
    q_out: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for i in range(min(samples, len(reader))):
        reader.set_range(i, i + 1)
        inputs = reader.get_next()
        for name, r, q in zip(
            names, reference.run(None, inputs), quantized.run(None, inputs), strict=True
        ):
            ref_out[name].append(r)
            q_out[name].append(q)
    reader.rewind()
    return {name: sqnr_db(ref_out[name], q_out[name]) for name in names}


def _quantizable_ops() -> set[str]:
    """Return the operator types onnxruntime's static quantizer may quantize."""
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return set(QDQRegistry) | set(QLinearOpsRegistry)


def _mark_preprocessed(source: Path, target: Path) -> None:
    """Copy a graph with shape inference only, marked as pre-processed for the quantizer.

    No optimisation is applied, so every tensor keeps its name and the debugging tools can
    match the float and QDQ graphs tensor by tensor.
    """
    from onnxruntime.quantization import quant_pre_process

    quant_pre_process(str(source), str(target), skip_optimization=True, skip_symbolic_shape=True)


def quantize_graph(
    fp32_path: str | Path,
    out_path: str | Path,
    reader: SampleReader,
    variant: str = "cpu",
    method: str = "minmax",
    per_channel: bool | None = None,
    min_sqnr_db: float = MIN_SQNR_DB,
    max_rounds: int = 3,
    debug_samples: int = DEBUG_SAMPLES,
    work_dir: str | Path | None = None,
    reduce_range: bool | None = None,
    calibration_cache: str | Path | None = None,
    jump_db: float = JUMP_DB,
) -> QuantizationResult:
    """Quantize one graph to INT8 (QDQ), keeping in float the nodes INT8 represents badly.

    Args:
        fp32_path: The float graph.
        out_path: The QDQ graph to write.
        reader: Calibration samples of this graph.
        variant: ``cpu`` or ``trt`` (see ``VARIANTS``). Defaults to ``cpu``.
        method: ``minmax``, ``entropy`` or ``percentile``. Defaults to ``minmax``.
        per_channel: Per-channel weight scales; None tries both and keeps the one whose
            outputs are closer to fp32 (lowest output SQNR highest). Defaults to None.
        min_sqnr_db: Tensors whose own quantization SQNR (or whose amplified error) is below
            this are kept in float. Defaults to ``MIN_SQNR_DB`` (25 dB).
        max_rounds: Quantization rounds at most (each after excluding more nodes). Defaults
            to 3.
        debug_samples: Samples the debugging runs use. Defaults to ``DEBUG_SAMPLES`` (4).
        work_dir: Scratch folder kept for inspection; None uses a temporary folder. Defaults
            to None.
        reduce_range: 7-bit weights; None means True for ``cpu`` and False for ``trt`` (see
            the module notes). Defaults to None.
        calibration_cache: JSON file of the calibrated ranges, reused if it exists (the ranges
            do not depend on the variant or per-channel choice, so both variants of a graph can
            share it); None keeps it in the scratch folder. Defaults to None.
        jump_db: SQNR drop across one operation that marks it as amplifying the INT8 error of
            its inputs. Defaults to ``qdq_debug.JUMP_DB`` (20 dB).

    Returns:
        The written path, the excluded nodes with reasons, and the output SQNRs.

    Raises:
        ConfigError: On an unknown variant or method.
    """
    import onnx

    _method(method)
    if variant not in VARIANTS:
        raise ConfigError(f"unknown INT8 variant {variant!r}: use one of {VARIANTS}")
    if reduce_range is None:
        reduce_range = variant == "cpu"
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="maskaudit-quant-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        source = work / "float.onnx"
        _mark_preprocessed(Path(fp32_path), source)
        cache = (
            Path(calibration_cache)
            if calibration_cache is not None
            else work / f"calibration.{method}.json"
        )
        choices = [per_channel] if per_channel is not None else [True, False]
        best: QuantizationResult | None = None
        for choice in choices:
            candidate = work / f"qdq.{variant}.{'pc' if choice else 'pt'}.onnx"
            result = _search(
                source,
                candidate,
                reader,
                _Settings(variant, method, choice, reduce_range, min_sqnr_db, max_rounds, jump_db),
                debug_samples,
                work,
                cache,
                onnx.load(str(source)),
            )
            if best is None or min(result.output_sqnr_db.values()) > min(
                best.output_sqnr_db.values()
            ):
                best = result
        assert best is not None
        shutil.copyfile(best.path, out_path)
        best.path = out_path
    logger.info(
        "%s: %s INT8, per-channel %s, %d nodes kept in float, output SQNR %s",
        out_path.name,
        variant,
        best.per_channel,
        len(best.excluded),
        {k: round(v, 1) for k, v in best.output_sqnr_db.items()},
    )
    return best


@dataclass(frozen=True)
class _Settings:
    """The fixed choices of one quantization search."""

    variant: str
    method: str
    per_channel: bool
    reduce_range: bool
    min_sqnr_db: float
    max_rounds: int
    jump_db: float


def _search(
    source: Path,
    target: Path,
    reader: SampleReader,
    settings: _Settings,
    debug_samples: int,
    work: Path,
    cache: Path,
    model,
) -> QuantizationResult:
    """Quantize, debug and exclude until no tensor is lossy (or the rounds run out)."""
    s = settings
    quantizable = _quantizable_ops()
    excluded: dict[str, ExcludedNode] = {}

    def quantize(keep_activations: bool = True):
        _quantize(
            source,
            target,
            reader,
            s.variant,
            s.method,
            s.per_channel,
            excluded,
            cache,
            s.reduce_range,
            keep_activations,
        )
        return tensor_errors(source, target, reader, debug_samples, work)

    rounds = 0
    while True:
        rounds += 1
        errors = quantize()
        findings = find_lossy_tensors(model, errors, s.min_sqnr_db, s.jump_db)
        fresh = []
        for finding in findings:
            for node, op_type in nodes_touching(model, finding.tensor, quantizable):
                if node not in excluded:
                    reason = f"{finding.reason} ({s.variant} variant, {s.method} calibration)"
                    excluded[node] = ExcludedNode(
                        node, op_type, finding.tensor, finding.sqnr_db, reason
                    )
                    fresh.append(node)
        logger.debug(
            "round %d (%s, per-channel %s): %d lossy tensors, %d new exclusions",
            rounds,
            s.variant,
            s.per_channel,
            len(findings),
            len(fresh),
        )
        if not fresh or rounds >= s.max_rounds:
            break
    # The graph to ship: the final exclusions, activations folded into their inputs' ranges.
    errors = quantize(keep_activations=False)
    worst = dict(sorted(errors.local.items(), key=lambda kv: kv[1])[:5])
    return QuantizationResult(
        path=target,
        variant=s.variant,
        method=s.method,
        per_channel=s.per_channel,
        reduce_range=s.reduce_range,
        excluded=list(excluded.values()),
        output_sqnr_db=output_sqnr(
            source, target, reader, debug_samples, simulate=s.variant == "trt"
        ),
        rounds=rounds,
        worst_tensors={k: round(v, 2) for k, v in worst.items()},
    )
