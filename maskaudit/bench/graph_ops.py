"""Multiply-accumulates (MACs) of an ONNX graph, counted node by node with shape inference.

The graph's dynamic axes are fixed to given sizes, ONNX shape inference (with data
propagation, so that shapes computed by ``Shape``/``Reshape`` chains resolve) gives every
tensor's shape, and each node of a counted type adds its MACs:

- ``Conv``, ``ConvInteger``, ``QLinearConv``: output elements times the weight's
  ``C_in / group * kernel`` (bias additions not counted);
- ``ConvTranspose``: input elements times the weight's ``C_out / group * kernel``;
- ``MatMul``, ``MatMulInteger``, ``QLinearMatMul``: output elements times the contracted size
  (numpy broadcasting and 1-D operands included);
- ``Gemm``: output elements times the contracted size (``alpha``, ``beta`` and ``C`` not
  counted);
- ``Einsum``: contracted pairwise from left to right; a letter found in one operand only and
  needed neither by the output nor a later operand is summed out first (an addition, not
  counted), and each pairwise product costs the product of the sizes of the letters it
  involves. This is what ``torch.einsum`` does (a batched matrix product after the sums).

Everything else (pooling, normalisation, activations, element-wise arithmetic, reductions, and
the quantise/dequantise nodes of INT8 graphs) is not counted, which is the usual convention and
the one :mod:`maskaudit.export.complexity` follows with PyTorch's flop counter. One FLOP count
is about two MACs. Needs the ``onnx`` package (the ``export`` extra).

Example:
    >>> counted = count_graph_macs("frame_encoder.fp32.onnx", {"N": 1})  # doctest: +SKIP
    >>> counted.total  # doctest: +SKIP
    77930496
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maskaudit.errors import BundleError, ConfigError

logger = logging.getLogger(__name__)

COUNTED_OPS: tuple[str, ...] = (
    "Conv",
    "ConvInteger",
    "QLinearConv",
    "ConvTranspose",
    "MatMul",
    "MatMulInteger",
    "QLinearMatMul",
    "Gemm",
    "Einsum",
)
"""Op types whose multiply-accumulates are counted; every other op counts zero."""

_OPERANDS: dict[str, tuple[int, int]] = {
    "Conv": (0, 1),
    "ConvInteger": (0, 1),
    "QLinearConv": (0, 3),
    "ConvTranspose": (0, 1),
    "MatMul": (0, 1),
    "MatMulInteger": (0, 1),
    "QLinearMatMul": (0, 3),
    "Gemm": (0, 1),
}
"""Input positions of the data and weight (or left and right) operands of each counted op."""

Shapes = dict[str, tuple[int, ...]]
"""Fully known tensor shapes by tensor name."""


@dataclass
class GraphMacs:
    """The MAC count of one graph at fixed input sizes.

    Attributes:
        total: MACs of one run.
        by_op: MACs per counted op type (types with no node are absent).
        nodes: ``(node name, op type, MACs)`` of every counted node, in graph order.
        uncounted: Number of nodes of each op type that counts zero.
        dims: The sizes the dynamic axes were fixed to.
    """

    total: int
    by_op: dict[str, int]
    nodes: list[tuple[str, str, int]]
    uncounted: dict[str, int] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the count as JSON-ready data (the per-node list left out)."""
        return {
            "total": self.total,
            "by_op": dict(self.by_op),
            "counted_nodes": len(self.nodes),
            "uncounted_nodes": dict(self.uncounted),
            "dims": dict(self.dims),
        }


def _onnx():
    """Import onnx, or say how to get it."""
    try:
        import onnx
    except ImportError as err:
        raise ConfigError(
            "counting graph MACs needs the onnx package: pip install -e '.[export]'"
        ) from err
    return onnx


def fix_dims(model, dims: Mapping[str, int]):
    """Return a copy of a model whose graph inputs have their named axes set to sizes.

    Args:
        model: An ``onnx.ModelProto``.
        dims: Size of each named (dynamic) axis, e.g. ``{"B": 1, "K": 4, "T": 10}``.

    Returns:
        The copy, every input axis concrete.

    Raises:
        ConfigError: If an input has a named axis ``dims`` does not give, or a size below 1.
    """
    onnx = _onnx()
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    initializers = {i.name for i in fixed.graph.initializer}
    for tensor in fixed.graph.input:
        if tensor.name in initializers:
            continue
        for axis, dim in enumerate(tensor.type.tensor_type.shape.dim):
            if dim.HasField("dim_value"):
                continue
            name = dim.dim_param
            if name not in dims:
                raise ConfigError(
                    f"input {tensor.name!r} axis {axis} is {name or 'unnamed'} and no size was "
                    f"given for it: pass dims with {name or 'a size'!r} (given: {sorted(dims)})"
                )
            size = int(dims[name])
            if size < 1:
                raise ConfigError(f"axis {name} has size {size}: pass 1 or more")
            dim.ClearField("dim_param")
            dim.dim_value = size
    return fixed


def tensor_shapes(model) -> Shapes:
    """Infer the shape of every tensor of a model whose inputs are concrete.

    Args:
        model: An ``onnx.ModelProto`` (e.g. from :func:`fix_dims`).

    Returns:
        ``{tensor name: shape}`` of every tensor whose shape inference fully resolved
        (initializers included); tensors with an unknown axis are left out.
    """
    onnx = _onnx()
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes: Shapes = {
        init.name: tuple(int(d) for d in init.dims) for init in model.graph.initializer
    }
    graph = inferred.graph
    for value in (*graph.input, *graph.value_info, *graph.output):
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        dims = tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(int(d.dim_value) for d in dims)
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    shapes[node.output[0]] = tuple(int(d) for d in attribute.t.dims)
    return shapes


def _operands(model) -> list[str]:
    """Names of the tensors the counted nodes of a model read and write, in graph order."""
    names: dict[str, None] = {}
    for node in model.graph.node:
        if node.op_type == "Einsum":
            names.update(dict.fromkeys(node.input))
        elif node.op_type in _OPERANDS:
            names.update(dict.fromkeys(node.input[i] for i in _OPERANDS[node.op_type]))
        else:
            continue
        names[node.output[0]] = None
    return list(names)


def run_shapes(model, names: Sequence[str]) -> Shapes:
    """Find tensor shapes that shape inference left unknown by running the graph once.

    Some graphs hold ops whose shape functions ONNX does not know (contrib ops of
    onnxruntime's quantiser, say); their outputs' shapes are then read from one onnxruntime
    run on inputs of ones at the model's fixed input sizes. Ones are valid token ids, masks and
    features alike, and the shapes of these graphs do not depend on input values.

    Args:
        model: An ``onnx.ModelProto`` whose inputs are concrete (see :func:`fix_dims`).
        names: The tensors whose shapes are wanted.

    Returns:
        ``{name: shape}`` for each of ``names`` the run produced.

    Raises:
        BundleError: If onnxruntime cannot run the graph.
    """
    import numpy as np
    import onnxruntime as ort

    onnx = _onnx()
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    present = {o.name for o in probe.graph.output}
    for name in names:
        if name not in present:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own exception types
        raise BundleError(f"cannot run the graph to find its shapes: {err}") from err
    initializers = {i.name for i in model.graph.initializer}
    feeds = {}
    for tensor in model.graph.input:
        if tensor.name in initializers:
            continue
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.type.tensor_type.elem_type)
        shape = [d.dim_value for d in tensor.type.tensor_type.shape.dim]
        feeds[tensor.name] = np.ones(shape, dtype=dtype)
    wanted = [o.name for o in session.get_outputs() if o.name in set(names)]
    values = session.run(wanted, feeds)
    logger.debug("shapes of %d tensors read from a run", len(wanted))
    return {name: tuple(int(d) for d in v.shape) for name, v in zip(wanted, values, strict=True)}


def _shape(shapes: Shapes, name: str, node) -> tuple[int, ...]:
    """A tensor's shape, or a BundleError naming the node that needs it."""
    if name not in shapes:
        raise BundleError(
            f"shape of {name!r} (used by {node.op_type} node {node.name!r}) is unknown: fix "
            "every dynamic axis of the graph's inputs"
        )
    return shapes[name]


def _attribute(node, name: str, default):
    """A node attribute's value, or ``default``."""
    onnx = _onnx()
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def node_macs(node, shapes: Shapes) -> int:
    """Return the MACs of one node (0 for an op type not in ``COUNTED_OPS``).

    Args:
        node: An ``onnx.NodeProto``.
        shapes: Tensor shapes (see :func:`tensor_shapes`).

    Returns:
        The node's multiply-accumulates.

    Raises:
        BundleError: If a shape the count needs is unknown.
    """
    op = node.op_type
    if op not in COUNTED_OPS:
        return 0
    if op == "Einsum":
        equation = _attribute(node, "equation", b"")
        equation = equation.decode() if isinstance(equation, bytes) else str(equation)
        return einsum_macs(equation, [_shape(shapes, name, node) for name in node.input])
    first, second = (_shape(shapes, node.input[i], node) for i in _OPERANDS[op])
    out = _shape(shapes, node.output[0], node)
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        return math.prod(out) * math.prod(second[1:])
    if op == "ConvTranspose":
        return math.prod(first) * math.prod(second[1:])
    if op == "Gemm":
        contracted = first[0] if _attribute(node, "transA", 0) else first[-1]
        return math.prod(out) * contracted
    return math.prod(out) * first[-1]


def einsum_macs(equation: str, shapes: Sequence[Sequence[int]]) -> int:
    """Return the MACs of an einsum contracted pairwise from left to right.

    Letters found in one operand only and needed by neither the output nor a later operand are
    summed out first (free); each pairwise product then costs the product of the sizes of the
    letters its two operands still hold. A one-operand einsum (a sum or a transpose) costs 0.

    Args:
        equation: The einsum equation, e.g. ``"bkc,bc->bk"`` (``...`` and an implicit output
            accepted).
        shapes: The operand shapes, in order.

    Returns:
        The multiply-accumulates.

    Raises:
        BundleError: If the equation does not match the operand count or ranks.

    Example:
        >>> einsum_macs("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)])
        120
    """
    terms, output = _parse_einsum(equation.replace(" ", ""), shapes)
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        for letter, size in zip(term, shape, strict=True):
            sizes[letter] = max(sizes.get(letter, 1), int(size))
    if len(terms) < 2:
        return 0
    held = set(terms[0])
    total = 0
    for j in range(1, len(terms)):
        later = set(output).union(*terms[j + 1 :])
        right = set(terms[j])
        left = {c for c in held if c in later or c in right}
        right = {c for c in right if c in later or c in left}
        involved = left | right
        total += math.prod(sizes[c] for c in involved)
        held = involved & later
    return total


def _parse_einsum(equation: str, shapes: Sequence[Sequence[int]]) -> tuple[list[str], str]:
    """Split an equation into operand terms and output, ``...`` replaced by digits."""
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise BundleError(
            f"einsum {equation!r} has {len(terms)} operands but {len(shapes)} shapes were given"
        )
    widest = 0
    expanded = []
    for term, shape in zip(terms, shapes, strict=True):
        if "..." in term:
            extra = len(shape) - (len(term) - 3)
            widest = max(widest, extra)
            term = term.replace("...", "".join(str(d) for d in range(10 - extra, 10)))
        if len(term) != len(shape):
            raise BundleError(
                f"einsum term {term!r} does not match an operand of rank {len(shape)}"
            )
        expanded.append(term)
    ellipsis = "".join(str(d) for d in range(10 - widest, 10))
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        counts = Counter("".join(expanded))
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1 and c.isalpha()))
    return expanded, output


def count_graph_macs(model: str | Path, dims: Mapping[str, int]) -> GraphMacs:
    """Count the MACs of one run of an ONNX graph with its dynamic axes fixed.

    Args:
        model: The ``.onnx`` file, or an ``onnx.ModelProto``.
        dims: Size of each named axis of the graph's inputs, e.g. ``{"N": 1}``; names the graph
            does not use are ignored.

    Returns:
        The count, node by node.

    Raises:
        BundleError: If the file cannot be read or a needed shape stays unknown.
        ConfigError: If an input axis has no size in ``dims``.
    """
    onnx = _onnx()
    if isinstance(model, str | Path):
        try:
            model = onnx.load(str(model))
        except Exception as err:  # a missing file, or protobuf's DecodeError
            raise BundleError(f"cannot read ONNX graph {model}: {err}") from err
    fixed = fix_dims(model, dims)
    shapes = tensor_shapes(fixed)
    missing = [name for name in _operands(fixed) if name not in shapes]
    if missing:
        shapes.update(run_shapes(fixed, missing))
    by_op: dict[str, int] = {}
    nodes = []
    uncounted: Counter[str] = Counter()
    for node in fixed.graph.node:
        if node.op_type not in COUNTED_OPS:
            uncounted[node.op_type] += 1
            continue
        macs = node_macs(node, shapes)
        by_op[node.op_type] = by_op.get(node.op_type, 0) + macs
        nodes.append((node.name, node.op_type, macs))
    used = {d.dim_param for t in model.graph.input for d in t.type.tensor_type.shape.dim}
    return GraphMacs(
        total=sum(by_op.values()),
        by_op=by_op,
        nodes=nodes,
        uncounted=dict(sorted(uncounted.items())),
        dims={k: int(v) for k, v in dims.items() if k in used},
    )


def bundle_macs(
    bundle_dir: str | Path,
    precision: str = "fp32",
    context: int = 10,
    candidates: int = 16,
    text_tokens: int | None = None,
) -> dict:
    """Count the MACs of a bundle's graphs for one stream step, as ``complexity.py`` does.

    Each encoder runs on one frame or window (N=1); the head on one frame (B=1) with
    ``context`` seconds of context (T). Like :func:`maskaudit.export.complexity.mac_counts`,
    ``per_frame`` is the frame encoder, the audio encoder and the head with one candidate, and
    ``per_extra_candidate`` is the head with two candidates minus the head with one; the head
    is also counted at ``candidates`` to show how it grows. The text encoder (run once per
    expression, not per frame) is counted at ``text_tokens`` tokens when the bundle has it.

    Args:
        bundle_dir: The bundle folder.
        precision: Which graph files to count (``fp32`` or ``int8``; INT8 graphs hold the same
            products between quantise and dequantise nodes). Defaults to ``"fp32"``.
        context: Context seconds of the head (T). Defaults to 10.
        candidates: A larger K to count the head at. Defaults to 16.
        text_tokens: Tokens per expression. Defaults to None: the runtime's ``MAX_TOKENS``.

    Returns:
        ``{"frame_encoder", "audio_encoder", "audit_head_1", "audit_head_2",
        "audit_head_<candidates>", "per_frame", "per_extra_candidate", "text_encoder"
        (None without the graph), "text_tokens", "context_seconds", "precision", "by_op"
        ({graph: {op: MACs}} at K=1)}``.

    Raises:
        BundleError: If a graph file is missing or unreadable.
    """
    from maskaudit.export import contract
    from maskaudit.features.constants import MAX_TOKENS

    bundle_dir = Path(bundle_dir)
    tokens = MAX_TOKENS if text_tokens is None else int(text_tokens)

    def graph(name: str, graph_precision: str = precision) -> Path:
        path = bundle_dir / contract.graph_file(name, graph_precision)
        if not path.is_file():
            raise BundleError(f"{path} does not exist: pass a bundle made by `maskaudit export`")
        return path

    frame = count_graph_macs(graph(contract.FRAME_ENCODER), {"N": 1})
    audio = count_graph_macs(graph(contract.AUDIO_ENCODER), {"N": 1})
    heads = {
        k: count_graph_macs(graph(contract.AUDIT_HEAD), {"B": 1, "K": k, "T": context})
        for k in sorted({1, 2, int(candidates)})
    }
    text = None
    text_file = next(
        (
            bundle_dir / contract.graph_file(contract.TEXT_ENCODER, p)
            for p in (precision, "int8", "fp32")
            if (bundle_dir / contract.graph_file(contract.TEXT_ENCODER, p)).is_file()
        ),
        None,
    )
    if text_file is not None:
        text = count_graph_macs(text_file, {"batch": 1, "tokens": tokens, "N": 1, "L": tokens})
    out = {
        contract.FRAME_ENCODER: frame.total,
        contract.AUDIO_ENCODER: audio.total,
        **{f"audit_head_{k}": count.total for k, count in heads.items()},
        "per_frame": frame.total + audio.total + heads[1].total,
        "per_extra_candidate": heads[2].total - heads[1].total,
        contract.TEXT_ENCODER: None if text is None else text.total,
        "text_tokens": tokens,
        "context_seconds": int(context),
        "precision": precision,
        "by_op": {
            contract.FRAME_ENCODER: frame.by_op,
            contract.AUDIO_ENCODER: audio.by_op,
            contract.AUDIT_HEAD: heads[1].by_op,
            **({} if text is None else {contract.TEXT_ENCODER: text.by_op}),
        },
    }
    logger.info("graph MACs of %s (%s): %s", bundle_dir, precision, out)
    return out
