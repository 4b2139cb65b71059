"""A tiny, valid bundle for tests: small random graphs that follow the graph contract.

The graphs are written with ``onnx.helper`` (small convolutions, pooling and matrix products
with seeded random weights), so no trained model and no torch are needed. Their outputs are
meaningless but deterministic and depend on every input, which is what runtime tests need.

Building needs the ``onnx`` package (the ``export`` extra); using the bundle needs only
onnxruntime.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.export.manifest import build_manifest, write_manifest

OPSET = 18
"""ONNX opset of the tiny graphs."""


@dataclass(frozen=True)
class TinySizes:
    """Channel counts and sizes of the tiny graphs.

    Attributes:
        c0: Channels of ``feat0`` (80x80). Defaults to 4.
        c1: Channels of ``feat1`` (40x40). Defaults to 6.
        c2: Channels of ``feat2`` (20x20). Defaults to 8.
        g: Length of ``frame_global``. Defaults to 8.
        cc: Channels of ``context`` (40x40). Defaults to 3.
        da: Length of ``audio_embedding``. Defaults to 8.
        hidden: Width of the head's hidden layer. Defaults to 16.
        frame: Side of the input frame and the masks. Defaults to 160.
        n_mels: Mel bands of the audio input. Defaults to 64.
        mel_frames: Mel frames of the audio input. Defaults to 101.
    """

    c0: int = 4
    c1: int = 6
    c2: int = 8
    g: int = 8
    cc: int = 3
    da: int = 8
    hidden: int = 16
    frame: int = 160
    n_mels: int = 64
    mel_frames: int = 101


class _Graph:
    """Collects nodes and random initialisers for one graph."""

    def __init__(self, rng: np.random.Generator, signed: bool = False) -> None:
        self.rng = rng
        self.signed = signed
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: np.ndarray, stem: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, shape: tuple[int, ...], scale: float | None = None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 2 else shape[0]
        scale = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32), "w")

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        output = output or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def qdq(self, x: str, scale: float, zero_point: int) -> str:
        """Quantise and dequantise ``x`` as a QDQ export does.

        With ``self.signed`` (the ``int8-trt`` variant) the zero point is int8 0 (symmetric);
        otherwise it is the given uint8 zero point.
        """
        if self.signed and zero_point == 0:  # a [0, 1] range needs the whole positive half
            scale *= 255.0 / 127.0
        s = self.const(np.float32(scale), "scale")
        z = self.const(np.int8(0) if self.signed else np.uint8(zero_point), "zp")
        return self.op("DequantizeLinear", [self.op("QuantizeLinear", [x, s, z]), s, z])

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int, out: str | None = None) -> str:
        w = self.weight((cout, cin, k, k))
        b = self.const(np.zeros(cout, np.float32), "b")
        y = self.op(
            "Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4
        )
        return self.op("Relu", [y], out)


def _value(name: str, elem: int, shape: list[int | str]) -> Any:
    from onnx import helper

    return helper.make_tensor_value_info(name, elem, shape)


def _save(graph: _Graph, name: str, inputs: list, outputs: list, path: Path) -> None:
    import onnx
    from onnx import helper

    model = helper.make_model(
        helper.make_graph(graph.nodes, name, inputs, outputs, graph.inits),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="maskaudit-tiny",
    )
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _frame_encoder(s: TinySizes, rng: np.random.Generator, precision: str, path: Path) -> None:
    from onnx import TensorProto as T

    g = _Graph(rng, signed=precision == "int8-trt")
    int8 = precision != "fp32"
    x = g.op("Cast", ["frame"], to=T.FLOAT)
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.op("Div", [x, g.const(np.float32(255.0))])
    x = g.op("Sub", [x, g.const(np.float32(0.5))])
    if int8:
        x = g.qdq(x, 1.0 / 255.0, 128)
    f0 = g.conv(x, 3, s.c0, 3, 2, "feat0")
    f1 = g.conv(f0, s.c0, s.c1, 3, 2, "feat1")
    f2 = g.conv(f1, s.c1, s.c2, 3, 2, "feat2")
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [f2])], axis=1)
    g.op("Tanh", [g.op("MatMul", [pooled, g.weight((s.c2, s.g), 1.0)])], "frame_global")
    g.conv(f1, s.c1, s.cc, 1, 1, "context")
    n = "N"
    _save(
        g,
        "frame_encoder",
        [_value("frame", T.UINT8, [n, s.frame, s.frame, 3])],
        [
            _value("feat0", T.FLOAT, [n, s.c0, s.frame // 2, s.frame // 2]),
            _value("feat1", T.FLOAT, [n, s.c1, s.frame // 4, s.frame // 4]),
            _value("feat2", T.FLOAT, [n, s.c2, s.frame // 8, s.frame // 8]),
            _value("frame_global", T.FLOAT, [n, s.g]),
            _value("context", T.FLOAT, [n, s.cc, s.frame // 4, s.frame // 4]),
        ],
        path,
    )


def _audio_encoder(s: TinySizes, rng: np.random.Generator, precision: str, path: Path) -> None:
    from onnx import TensorProto as T

    g = _Graph(rng, signed=precision == "int8-trt")
    int8 = precision != "fp32"
    x = g.op("ReduceMean", ["log_mel", g.const(np.array([2], np.int64))], keepdims=0)
    x = g.op("Div", [g.op("Add", [x, g.const(np.float32(6.0))]), g.const(np.float32(4.0))])
    if int8:
        x = g.qdq(x, 0.05, 128)
    g.op("Tanh", [g.op("MatMul", [x, g.weight((s.n_mels, s.da))])], "audio_embedding")
    _save(
        g,
        "audio_encoder",
        [_value("log_mel", T.FLOAT, ["N", s.n_mels, s.mel_frames])],
        [_value("audio_embedding", T.FLOAT, ["N", s.da])],
        path,
    )


def _text_encoder(rng: np.random.Generator, precision: str, path: Path) -> None:
    from onnx import TensorProto as T

    g = _Graph(rng, signed=precision == "int8-trt")
    int8 = precision != "fp32"
    width, buckets = 16, 97
    ids = g.op("Mod", ["input_ids", g.const(np.int64(buckets))])
    tokens = g.op("Gather", [g.weight((buckets, width), 1.0), ids])
    types = g.op("Gather", [g.weight((2, width), 0.1), "token_type_ids"])
    tokens = g.op("Add", [tokens, types])
    mask = g.op(
        "Unsqueeze",
        [g.op("Cast", ["attention_mask"], to=T.FLOAT), g.const(np.array([2], np.int64))],
    )
    axis = g.const(np.array([1], np.int64))
    total = g.op("ReduceSum", [g.op("Mul", [tokens, mask]), axis], keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [mask, axis], keepdims=0), g.const(np.float32(1.0))])
    pooled = g.op("Div", [total, count])
    if int8:
        pooled = g.qdq(pooled, 0.02, 128)
    g.op("MatMul", [pooled, g.weight((width, 384))], "text_embedding")
    _save(
        g,
        "text_encoder",
        [
            _value("input_ids", T.INT64, ["N", "L"]),
            _value("attention_mask", T.INT64, ["N", "L"]),
            _value("token_type_ids", T.INT64, ["N", "L"]),
        ],
        [_value("text_embedding", T.FLOAT, ["N", 384])],
        path,
    )


def _audit_head(s: TinySizes, rng: np.random.Generator, precision: str, path: Path) -> None:
    from onnx import TensorProto as T

    g = _Graph(rng, signed=precision == "int8-trt")
    int8 = precision != "fp32"
    i64 = lambda *v: g.const(np.array(v, np.int64))  # noqa: E731 - a local shorthand

    masks = g.qdq("masks", 1.0 / 255.0, 0) if int8 else "masks"
    step = s.frame // (s.frame // 8)
    small = g.op(
        "AveragePool",
        [g.op("Reshape", [masks, i64(-1, 1, s.frame, s.frame)])],
        kernel_shape=[step, step],
        strides=[step, step],
    )
    cells = (s.frame // 8) ** 2
    batch_k = g.op("Slice", [g.op("Shape", [masks]), i64(0), i64(2)])
    flat = g.op("Reshape", [small, g.op("Concat", [batch_k, i64(cells)], axis=0)])  # B,K,400
    area = g.op("ReduceMean", [flat, i64(2)], keepdims=1)  # B,K,1
    f2 = g.op("Reshape", ["feat2", i64(0, s.c2, cells)])  # B,C2,400
    inside = g.op("MatMul", [flat, g.op("Transpose", [f2], perm=[0, 2, 1])])  # B,K,C2
    inside = g.op(
        "Div",
        [
            inside,
            g.op(
                "Add", [g.op("Mul", [area, g.const(np.float32(cells))]), g.const(np.float32(1e-3))]
            ),
        ],
    )
    per_mask = g.op("Concat", [inside, area], axis=2)  # B,K,C2+1

    valid = g.op("Unsqueeze", ["context_valid", i64(2)])  # B,T,1
    maps = g.op("ReduceMean", ["context_maps", i64(3, 4)], keepdims=0)  # B,T,Cc
    entries = g.op("Mul", [g.op("Concat", [maps, "context_audio"], axis=2), valid])
    count = g.op("Max", [g.op("ReduceSum", [valid, i64(1)], keepdims=0), g.const(np.float32(1))])
    ctx = g.op("Div", [g.op("ReduceSum", [entries, i64(1)], keepdims=0), count])  # B,Cc+Da
    f0 = g.op("ReduceMean", ["feat0", i64(2, 3)], keepdims=0)
    f1 = g.op("ReduceMean", ["feat1", i64(2, 3)], keepdims=0)
    text = g.op("MatMul", ["text_embedding", g.weight((384, 8))])
    scene = g.op("Concat", ["frame_global", ctx, f0, f1, text], axis=1)
    scene_width = s.g + s.cc + s.da + s.c0 + s.c1 + 8

    hidden = g.op(
        "Add",
        [
            g.op("MatMul", [per_mask, g.weight((s.c2 + 1, s.hidden), 1.0)]),
            g.op("Unsqueeze", [g.op("MatMul", [scene, g.weight((scene_width, s.hidden))]), i64(1)]),
        ],
    )
    hidden = g.op("Tanh", [hidden])
    iou = g.op("Sigmoid", [g.op("MatMul", [hidden, g.weight((s.hidden, 1), 1.0)])])
    g.op("Squeeze", [iou, i64(2)], "iou")
    g.op("MatMul", [hidden, g.weight((s.hidden, 7), 1.0)], "type_logits")
    g.op("MatMul", [hidden, g.weight((s.hidden, 4), 1.0)], "action_logits")

    side, quarter, eighth = s.frame // 2, s.frame // 4, s.frame // 8
    _save(
        g,
        "audit_head",
        [
            _value("feat0", T.FLOAT, ["B", s.c0, side, side]),
            _value("feat1", T.FLOAT, ["B", s.c1, quarter, quarter]),
            _value("feat2", T.FLOAT, ["B", s.c2, eighth, eighth]),
            _value("frame_global", T.FLOAT, ["B", s.g]),
            _value("context_maps", T.FLOAT, ["B", "T", s.cc, quarter, quarter]),
            _value("context_audio", T.FLOAT, ["B", "T", s.da]),
            _value("context_valid", T.FLOAT, ["B", "T"]),
            _value("text_embedding", T.FLOAT, ["B", 384]),
            _value("masks", T.FLOAT, ["B", "K", s.frame, s.frame]),
        ],
        [
            _value("iou", T.FLOAT, ["B", "K"]),
            _value("type_logits", T.FLOAT, ["B", "K", 7]),
            _value("action_logits", T.FLOAT, ["B", "K", 4]),
        ],
        path,
    )


def build_tiny_bundle(
    folder: str | Path,
    tokenizer_json: str | Path,
    sizes: TinySizes | None = None,
    seed: int = 0,
    precisions: tuple[str, ...] = ("fp32", "int8"),
    text_precisions: tuple[str, ...] = ("int8",),
    **sections: Any,
) -> Path:
    """Write a tiny bundle that follows the graph contract, with its manifest.

    Args:
        folder: Where to write the bundle (created; existing files are overwritten).
        tokenizer_json: A ``tokenizer.json`` to copy into the bundle.
        sizes: Channel counts and sizes. Defaults to None: ``TinySizes()``.
        seed: Seed of the random weights. Defaults to 0.
        precisions: Precisions of the frame encoder, audio encoder and head (``fp32``, ``int8``,
            ``int8-trt``). Defaults to ``("fp32", "int8")``.
        text_precisions: Precisions of the text encoder. Defaults to ``("int8",)``, as the
            shipped bundle may have it.
        **sections: Extra manifest sections passed to ``build_manifest``.

    Returns:
        The bundle folder.

    Example:
        >>> build_tiny_bundle("tiny", "tokenizer.json")  # doctest: +SKIP
        PosixPath('tiny')
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = sizes or TinySizes()
    shutil.copyfile(tokenizer_json, folder / "tokenizer.json")
    builders = (
        (_frame_encoder, "frame_encoder", seed),
        (_audio_encoder, "audio_encoder", seed + 1),
        (_audit_head, "audit_head", seed + 3),
    )
    for precision in precisions:
        # The same seed per graph: the int8 graphs have the fp32 graph's weights plus QDQ.
        for build, graph, graph_seed in builders:
            rng = np.random.default_rng(graph_seed)
            build(sizes, rng, precision, folder / f"{graph}.{precision}.onnx")
    for precision in text_precisions:
        rng = np.random.default_rng(seed + 2)
        _text_encoder(rng, precision, folder / f"text_encoder.{precision}.onnx")
    sections.setdefault(
        "calibration", {"data": "none (random weights)", "samples": 0, "method": "none"}
    )
    write_manifest(folder, build_manifest(folder, **sections))
    return folder
