"""Find the tensors whose INT8 form loses accuracy, with onnxruntime's QDQ debugging tools.

The float graph and its QDQ graph are both augmented to output every intermediate tensor
(``qdq_loss_debug.modify_model_output_intermediate_tensors``), run on the same samples with
graph optimisations off (as ``collect_activations`` runs them) and matched by name
(``create_activation_matching``). Two errors are
measured per tensor, as signal-to-quantization-noise ratios (SQNR, dB) summed over samples:

- ``local``: a quantized tensor against its own quantize-dequantize result, the noise INT8 adds
  at that point (a tensor read only by a Relu or Clip is compared after that clamp, because the
  quantizer folds the clamp into the tensor's range);
- ``cross``: any float tensor of the QDQ graph against the same tensor of the float graph, the
  error accumulated up to that point (after the same clamp, for the same reason).

Two findings make a tensor *lossy*:

1. its local SQNR is below ``min_sqnr_db``: INT8 cannot represent its range (e.g. a softmax
   over 400 positions whose values are all far below one quantization step);
2. an operation *amplifies* the error of its inputs: the cross SQNR of its output (as it
   computes it, before the output's own QDQ) is below ``min_sqnr_db`` and at least
   ``jump_db`` below that of its inputs (as it reads them, after their QDQ). Comparisons (``Equal``,
   ``Greater``) on quantized values flip, and divisions by small values blow errors up; the
   quantized tensors feeding such an operation (through any chain of cheap quantized
   operations, up to the nearest convolution or matrix product) must stay exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskaudit.export.calibration import SampleReader
from maskaudit.export.parity import cpu_session

COMPUTE_OPS: frozenset[str] = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
"""Operations where INT8 pays off; an upstream walk for an amplified error stops at them."""

JUMP_DB = 20.0
"""Default drop of the cross SQNR across one operation that marks it as an amplifier."""

_EXACT_DB = 200.0
"""SQNR reported for a tensor whose INT8 form is exact."""

BROKEN_DB = -100.0
"""SQNR reported for a tensor that INT8 turns non-finite (e.g. a quantized denominator that
becomes exactly zero)."""

_SAVED = "_ReshapedSavedOutput"
"""Suffix ``modify_model_output_intermediate_tensors`` gives the tensors it adds as outputs."""


@dataclass
class TensorErrors:
    """Per-tensor SQNRs of a QDQ graph against its float graph, in dB.

    Attributes:
        local: Quantized tensors: their own quantize-dequantize noise.
        cross: Every float tensor as its readers see it in the QDQ graph (after its own QDQ,
            if any), against the float graph's.
        produced: Every float tensor as its producer computed it in the QDQ graph (before its
            own QDQ), against the float graph's; missing entries equal ``cross``.
    """

    local: dict[str, float] = field(default_factory=dict)
    cross: dict[str, float] = field(default_factory=dict)
    produced: dict[str, float] = field(default_factory=dict)


@dataclass
class Finding:
    """A tensor to keep in float.

    Attributes:
        tensor: The tensor's name in the float graph.
        sqnr_db: The SQNR that condemned it (local, or the amplified cross SQNR).
        reason: One sentence for the manifest.
    """

    tensor: str
    sqnr_db: float
    reason: str


class _Energy:
    """Running sums of signal and noise energy per tensor.

    Positions where the reference is not finite are ignored; a non-finite test value where the
    reference is finite marks the tensor as broken (``BROKEN_DB``).
    """

    def __init__(self) -> None:
        self.signal: dict[str, float] = {}
        self.noise: dict[str, float] = {}
        self.broken: set[str] = set()

    def add(self, name: str, reference: list[np.ndarray], test: list[np.ndarray]) -> None:
        ref = np.concatenate([np.ravel(a) for a in reference]).astype(np.float64)
        out = np.concatenate([np.ravel(a) for a in test]).astype(np.float64)
        if ref.shape != out.shape:
            return
        keep = np.isfinite(ref)
        ref, out = ref[keep], out[keep]
        if not np.isfinite(out).all():
            self.broken.add(name)
            out = np.where(np.isfinite(out), out, 0.0)
        self.signal[name] = self.signal.get(name, 0.0) + float(np.sum(ref * ref))
        self.noise[name] = self.noise.get(name, 0.0) + float(np.sum((ref - out) ** 2))

    def db(self) -> dict[str, float]:
        out = {}
        for name, signal in self.signal.items():
            noise = self.noise[name]
            if name in self.broken:
                out[name] = BROKEN_DB
            elif noise == 0.0:
                out[name] = _EXACT_DB
            else:
                out[name] = float(10 * np.log10(max(signal, 1e-30) / noise))
        return out


class _ActivationRunner:
    """Runs a graph augmented by ``modify_model_output_intermediate_tensors``.

    Does what ``qdq_loss_debug.collect_activations`` does for one sample, but keeps one
    session for all samples (that function opens a new session per call). Graph
    optimisations are off, as there, so a QDQ graph runs as an exact INT8 simulation.
    """

    def __init__(self, path: Path) -> None:
        self.session = cpu_session(path, optimize=False)
        self.names = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
        outputs = self.session.run(None, inputs)
        return {
            name[: -len(_SAVED)]: [value]
            for name, value in zip(self.names, outputs, strict=True)
            if name.endswith(_SAVED)
        }


def _constant_value(model, name: str) -> float | None:
    """Return the scalar value of an initializer or Constant node output, if it is one."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            return float(numpy_helper.to_array(init).reshape(-1)[0])
    for node in model.graph.node:
        if node.op_type == "Constant" and name in node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    return float(numpy_helper.to_array(attr.t).reshape(-1)[0])
    return None


def clamp_bounds(model) -> dict[str, tuple[float, float]]:
    """Return ``{tensor: (low, high)}`` for tensors read only by one Relu or Clip node.

    Args:
        model: The float ``onnx.ModelProto``.

    Returns:
        The clamp each such tensor goes through next.
    """
    readers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    bounds: dict[str, tuple[float, float]] = {}
    for tensor, nodes in readers.items():
        if len(nodes) != 1 or nodes[0].op_type not in ("Relu", "Clip"):
            continue
        node = nodes[0]
        if node.op_type == "Relu":
            bounds[tensor] = (0.0, np.inf)
            continue
        inputs = list(node.input) + ["", ""]
        low = _constant_value(model, inputs[1]) if inputs[1] else None
        high = _constant_value(model, inputs[2]) if inputs[2] else None
        bounds[tensor] = (-np.inf if low is None else low, np.inf if high is None else high)
    return bounds


def tensor_errors(
    float_path: Path, qdq_path: Path, reader: SampleReader, samples: int, work: Path
) -> TensorErrors:
    """Measure the local and cross SQNR of every tensor (see the module notes).

    Args:
        float_path: The float graph.
        qdq_path: Its QDQ graph (same tensor names).
        reader: Samples; the first ``samples`` are used, one at a time (memory stays bounded).
        samples: How many samples.
        work: A scratch folder for the augmented graphs.

    Returns:
        The SQNRs in dB (``_EXACT_DB`` = 200 where INT8 is exact).
    """
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    bounds = clamp_bounds(onnx.load(str(float_path)))
    float_aug, qdq_aug = work / "debug_float.onnx", work / "debug_qdq.onnx"
    modify_model_output_intermediate_tensors(str(float_path), str(float_aug))
    modify_model_output_intermediate_tensors(str(qdq_path), str(qdq_aug))
    float_run, qdq_run = _ActivationRunner(float_aug), _ActivationRunner(qdq_aug)
    local, cross, produced = _Energy(), _Energy(), _Energy()
    for i in range(min(samples, len(reader))):
        reader.set_range(i, i + 1)
        inputs = reader.get_next()
        reference, quantized = float_run(inputs), qdq_run(inputs)
        matched = create_activation_matching(quantized, reference)
        for name, pair in matched.items():
            pre, post = pair["pre_qdq"], pair["post_qdq"]
            if name in bounds:
                pre = [np.clip(a, *bounds[name]) for a in pre]
                post = [np.clip(a, *bounds[name]) for a in post]
            local.add(name, pre, post)
        for name, values in reference.items():
            if name not in quantized:
                continue
            seen = matched[name]["post_qdq"] if name in matched else quantized[name]
            clip = bounds.get(name, (-np.inf, np.inf))
            values = [np.clip(a, *clip) for a in values]
            cross.add(name, values, [np.clip(a, *clip) for a in seen])
            produced.add(name, values, [np.clip(a, *clip) for a in quantized[name]])
    reader.rewind()
    return TensorErrors(local=local.db(), cross=cross.db(), produced=produced.db())


def _level(db: float) -> str:
    """Describe an SQNR for a reason text."""
    return "non-finite values" if db <= BROKEN_DB else f"SQNR {db:.1f} dB"


def _producers(model) -> dict[str, object]:
    return {out: node for node in model.graph.node for out in node.output}


def _float_sources(tensor: str, producers: dict, known: set[str], depth: int = 4) -> set[str]:
    """Return the measured float tensors a tensor is computed from, through unmeasured ones.

    Unmeasured tensors (booleans, integers) are followed up to their producer's inputs, so a
    ``Cast(Equal(x, 1))`` leads back to ``x``.
    """
    if tensor in known:
        return {tensor}
    node = producers.get(tensor)
    if node is None or depth == 0:
        return set()
    found: set[str] = set()
    for name in node.input:
        if name:
            found |= _float_sources(name, producers, known, depth - 1)
    return found


def _quantized_chain(start: Iterable[str], producers: dict, quantized: set[str]) -> set[str]:
    """Return the quantized tensors from ``start`` upwards, stopping above compute layers.

    Walks from each tensor to the inputs of its producer while the tensors are quantized and
    the producer is not a convolution or matrix product.
    """
    chain: set[str] = set()
    todo = [t for t in start if t in quantized]
    while todo:
        tensor = todo.pop()
        if tensor in chain:
            continue
        chain.add(tensor)
        node = producers.get(tensor)
        if node is None or node.op_type in COMPUTE_OPS:
            continue
        todo.extend(name for name in node.input if name in quantized and name not in chain)
    return chain


def find_lossy_tensors(
    model, errors: TensorErrors, min_sqnr_db: float, jump_db: float = JUMP_DB
) -> list[Finding]:
    """Return the tensors to keep in float, with the reason for each.

    Args:
        model: The float ``onnx.ModelProto``.
        errors: The SQNRs from :func:`tensor_errors`.
        min_sqnr_db: Lowest acceptable SQNR.
        jump_db: Lowest drop of the cross SQNR across one operation that counts as
            amplification. Defaults to ``JUMP_DB`` (20 dB).

    Returns:
        Findings, lowest SQNR first, one per tensor.
    """
    findings: dict[str, Finding] = {}
    for tensor, db in errors.local.items():
        if db < min_sqnr_db:
            findings[tensor] = Finding(
                tensor, round(db, 2), f"{tensor} has {_level(db)} in INT8 (< {min_sqnr_db:g} dB)"
            )

    producers = _producers(model)
    known = set(errors.cross)
    quantized = set(errors.local)
    for node in model.graph.node:
        for out in node.output:
            db = errors.produced.get(out, errors.cross.get(out))
            if db is None or db >= min_sqnr_db:
                continue
            sources = set()
            for name in node.input:
                if name:
                    sources |= _float_sources(name, producers, known)
            upstream = [errors.cross[s] for s in sources]
            if not upstream or min(upstream) - db < jump_db:
                continue
            where = " after ".join(
                [f"{node.op_type} {node.name}"]
                + [
                    f"{producers[name].op_type} {producers[name].name}"
                    for name in node.input
                    if name and name not in known and name in producers
                ]
            )
            for tensor in _quantized_chain(sources, producers, quantized):
                if tensor not in findings:
                    findings[tensor] = Finding(
                        tensor,
                        round(db, 2),
                        f"{where} turns the INT8 error of its inputs "
                        f"({_level(min(upstream))}) into {_level(db)}; {tensor} is kept exact",
                    )
    return sorted(findings.values(), key=lambda f: f.sqnr_db)


def nodes_touching(model, tensor: str, op_types: set[str]) -> list[tuple[str, str]]:
    """Return (name, op type) of the nodes of ``op_types`` producing or reading ``tensor``.

    Args:
        model: The float ``onnx.ModelProto``.
        tensor: A tensor name.
        op_types: Operator types that the quantizer may quantize.

    Returns:
        The nodes, in graph order.
    """
    return [
        (node.name, node.op_type)
        for node in model.graph.node
        if node.op_type in op_types and (tensor in node.output or tensor in node.input)
    ]
