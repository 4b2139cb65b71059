"""TensorRT settings shared by ``maskaudit build-engine`` and the runtime's GPU backends.

Plain Python (no torch, no TensorRT, no onnxruntime import), so the runtime can import it. It
is the one place that defines:

- optimisation-profile shapes (min, opt, max) of every graph input, from the manifest's
  signature and :class:`ProfileLimits` (engine builds, ``ort-trt`` and the warm-up use them);
- the option dict the ``ort-trt`` backend passes to onnxruntime's TensorRT execution provider;
- engine and timing-cache file names (engines are not portable: they are named by graph, GPU,
  TensorRT version and precision), so that the ``trt`` backend finds what ``build-engine``
  writes;
- which ONNX file and builder flags each engine precision uses, and which engine precision
  runs a bundle graph file of a given precision.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maskaudit.errors import ConfigError
from maskaudit.export import contract

logger = logging.getLogger(__name__)

ENGINE_PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
"""Engine precisions: ``fp32`` (no reduced precision), ``fp16`` (FP16 kernels allowed, built
from the fp32 graph) and ``int8`` (explicit quantization from the signed-INT8 QDQ graph
``<graph>.int8-trt.onnx``, FP16 allowed for the layers kept in float)."""

ENGINE_GRAPHS: tuple[str, ...] = contract.TRAINED_GRAPHS
"""Graphs built into engines. The text encoder runs once per expression and its shipped graph
is dynamically quantized (``MatMulInteger``), which TensorRT does not parse: it stays on
onnxruntime."""

ORT_TRT_CACHE_DIR = "ort-trt"
"""Sub-folder of a bundle's ``engines/`` (``manifest.ENGINES_DIR``) where onnxruntime's TensorRT
provider keeps its caches."""

UNKNOWN_GPU = "unknown-gpu"
"""The GPU name engines are named for when the GPU cannot be told (see :func:`engine_gpu_name`)."""


@dataclass(frozen=True)
class ProfileLimits:
    """Ranges of the dynamic axes that TensorRT optimisation profiles cover.

    Attributes:
        max_batch: Most frames per audit-head run (axis ``B``). Defaults to 8.
        max_k: Most candidate masks per frame (axis ``K``). Defaults to 16.
        opt_k: Candidates per frame TensorRT tunes for. Defaults to 4.
        max_frames: Most frames or windows per encoder run (axis ``N``): a stream encodes one
            frame at a time, ``audit`` with context encodes up to ``context + 1``. Defaults
            to 11.
        context: Seconds of temporal context (axis ``T``, tuned and maximum). Defaults to 10.
        max_expressions: Most expressions per text-encoder run. Defaults to 4.
        tokens: Tokens per expression (axis ``L``; the tokenizer pads to it). Defaults to 32.
    """

    max_batch: int = 8
    max_k: int = 16
    opt_k: int = 4
    max_frames: int = 11
    context: int = 10
    max_expressions: int = 4
    tokens: int = 32

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_k", "opt_k", "max_frames", "context", "tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"profile limit {name} must be at least 1, not {getattr(self, name)}"
                )
        if self.opt_k > self.max_k:
            raise ConfigError(f"opt_k {self.opt_k} is above max_k {self.max_k}: lower --opt-k")

    def axis_range(self, graph: str, axis_name: str) -> tuple[int, int, int]:
        """Return (min, opt, max) of a named dynamic axis of a graph.

        Args:
            graph: The graph's name.
            axis_name: ``N``, ``B``, ``K``, ``T`` or ``L``.

        Returns:
            The range.

        Raises:
            ConfigError: For an unknown axis name.
        """
        if axis_name == "N" and graph == contract.TEXT_ENCODER:
            return (1, 1, self.max_expressions)
        ranges = {
            "N": (1, 1, self.max_frames),
            "B": (1, 1, self.max_batch),
            "K": (1, min(self.opt_k, self.max_k), self.max_k),
            "T": (1, self.context, self.context),
            "L": (self.tokens, self.tokens, self.tokens),
        }
        if axis_name not in ranges:
            raise ConfigError(f"{graph} has a dynamic axis {axis_name!r} with no profile range")
        return ranges[axis_name]


Shape = tuple[int, ...]


def profile_shapes(
    graph: str, inputs: Sequence[Mapping[str, Any]], limits: ProfileLimits | None = None
) -> dict[str, tuple[Shape, Shape, Shape]]:
    """Return the (min, opt, max) shape of every input of a graph.

    Dynamic axes are identified by the graph contract (``contract.DYNAMIC_AXES``), whatever
    the exporter named them in the file; an axis the contract does not know keeps the name the
    manifest gives it.

    Args:
        graph: The graph's name.
        inputs: Its inputs as the manifest lists them (``{"name", "dtype", "shape"}``, strings
            for dynamic axes).
        limits: The axis ranges. Defaults to ``ProfileLimits()``.

    Returns:
        ``{input name: (min shape, opt shape, max shape)}`` in input order.

    Example:
        >>> profile_shapes("audio_encoder", [{"name": "log_mel", "shape": ["N", 64, 101]}])
        {'log_mel': ((1, 64, 101), (1, 64, 101), (11, 64, 101))}
    """
    limits = limits or ProfileLimits()
    axes = contract.DYNAMIC_AXES.get(graph, {})
    shapes: dict[str, tuple[Shape, Shape, Shape]] = {}
    for value in inputs:
        name = value["name"]
        dims = []
        for index, dim in enumerate(value["shape"]):
            if isinstance(dim, int):
                dims.append((dim, dim, dim))
            else:
                dims.append(limits.axis_range(graph, axes.get(name, {}).get(index, str(dim))))
        shapes[name] = tuple(tuple(d[i] for d in dims) for i in range(3))  # type: ignore[assignment]
    return shapes


def shape_string(shapes: Mapping[str, Shape]) -> str:
    """Format shapes the way onnxruntime's TensorRT provider reads them.

    Args:
        shapes: ``{input name: shape}``.

    Returns:
        ``"name:1x160x160x3,other:1x64x101"``.

    Example:
        >>> shape_string({"frame": (1, 160, 160, 3), "log_mel": (2, 64, 101)})
        'frame:1x160x160x3,log_mel:2x64x101'
    """
    return ",".join(f"{name}:" + "x".join(str(d) for d in shape) for name, shape in shapes.items())


def trt_provider_options(
    graph: str,
    inputs: Sequence[Mapping[str, Any]],
    precision: str,
    cache_dir: str | Path,
    limits: ProfileLimits | None = None,
    workspace_mb: int = 2048,
    device_id: int = 0,
) -> dict[str, str]:
    """Return the options of onnxruntime's TensorRT execution provider for one graph.

    Engine and timing caches are on (in ``cache_dir``), the profile covers every dynamic axis
    explicitly (min/opt/max), FP16 is on for ``fp16`` and ``int8``, INT8 is on for ``int8``
    (the QDQ graph then fixes where INT8 runs; no calibration table is used). Values are
    strings, as the provider parses them.

    Args:
        graph: The graph's name.
        inputs: Its inputs from the manifest.
        precision: ``fp32``, ``fp16`` or ``int8`` (see ``ENGINE_PRECISIONS``).
        cache_dir: Folder for the engine and timing caches (e.g.
            ``<bundle>/engines/ort-trt``).
        limits: Profile ranges. Defaults to ``ProfileLimits()``.
        workspace_mb: TensorRT builder workspace in MiB. Defaults to 2048.
        device_id: CUDA device. Defaults to 0.

    Returns:
        ``{"device_id", "trt_max_workspace_size", "trt_fp16_enable", "trt_int8_enable",
        "trt_int8_use_native_calibration_table", "trt_engine_cache_enable",
        "trt_engine_cache_path", "trt_engine_cache_prefix", "trt_timing_cache_enable",
        "trt_timing_cache_path", "trt_profile_min_shapes", "trt_profile_opt_shapes",
        "trt_profile_max_shapes"}``.

    Raises:
        ConfigError: On an unknown precision.
    """
    check_precision(precision)
    shapes = profile_shapes(graph, inputs, limits)
    cache = str(Path(cache_dir))
    options = {
        "device_id": str(device_id),
        "trt_max_workspace_size": str(int(workspace_mb) << 20),
        "trt_fp16_enable": str(precision in ("fp16", "int8")),
        "trt_int8_enable": str(precision == "int8"),
        "trt_int8_use_native_calibration_table": "False",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": cache,
        "trt_engine_cache_prefix": f"{graph}.{precision}",
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": cache,
    }
    for key, index in (("min", 0), ("opt", 1), ("max", 2)):
        options[f"trt_profile_{key}_shapes"] = shape_string(
            {name: triple[index] for name, triple in shapes.items()}
        )
    return options


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is an engine precision, else raise ConfigError."""
    if precision not in ENGINE_PRECISIONS:
        raise ConfigError(
            f"unknown engine precision {precision!r}: use one of {', '.join(ENGINE_PRECISIONS)}"
        )
    return precision


def engine_precision(graph_precision: str) -> str:
    """Return the engine precision that runs a bundle graph file of ``graph_precision``.

    The inverse of :func:`source_precision` for the precisions the runtime asks for: the
    ``trt`` backend looks up this engine, the ``ort-trt`` backend sets these TensorRT flags.

    Args:
        graph_precision: The graph file's precision: ``fp32``, ``int8`` or ``int8-trt``.

    Returns:
        ``fp32`` for ``fp32``; ``int8`` for ``int8`` and ``int8-trt`` (the QDQ graphs).

    Raises:
        ConfigError: On another precision.

    Example:
        >>> engine_precision("int8-trt")
        'int8'
    """
    if graph_precision == "fp32":
        return "fp32"
    if graph_precision in ("int8", "int8-trt"):
        return "int8"
    raise ConfigError(
        f"no engine precision runs a {graph_precision!r} graph: use fp32, int8 or int8-trt"
    )


def source_precision(precision: str) -> str:
    """Return the precision of the ONNX file an engine precision is built from.

    Args:
        precision: ``fp32``, ``fp16`` or ``int8``.

    Returns:
        ``fp32`` for ``fp32`` and ``fp16``; ``int8-trt`` (signed, symmetric QDQ) for ``int8``.
    """
    check_precision(precision)
    return "int8-trt" if precision == "int8" else "fp32"


def builder_flags(precision: str) -> tuple[str, ...]:
    """Return the ``tensorrt.BuilderFlag`` names an engine precision sets.

    Args:
        precision: ``fp32``, ``fp16`` or ``int8``.

    Returns:
        ``()``, ``("FP16",)`` or ``("INT8", "FP16")``.
    """
    check_precision(precision)
    return {"fp32": (), "fp16": ("FP16",), "int8": ("INT8", "FP16")}[precision]


def gpu_slug(name: str) -> str:
    """Turn a GPU name into a file-name part.

    Args:
        name: The GPU's name as the driver reports it.

    Returns:
        Lower-case letters, digits and single dashes (``gpu`` if nothing is left).

    Example:
        >>> gpu_slug("NVIDIA H200")
        'nvidia-h200'
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gpu"


def engine_file_name(graph: str, gpu_name: str, trt_version: str, precision: str) -> str:
    """Return the file name of a graph's engine in ``<bundle>/engines/``.

    Args:
        graph: The graph's name.
        gpu_name: The GPU's name (``NVIDIA H200``, ``Orin``).
        trt_version: TensorRT's version (``tensorrt.__version__``).
        precision: ``fp32``, ``fp16`` or ``int8``.

    Returns:
        ``<graph>.<gpu slug>.trt<version>.<precision>.engine``.

    Example:
        >>> engine_file_name("audit_head", "NVIDIA H200", "10.9.0", "int8")
        'audit_head.nvidia-h200.trt10.9.0.int8.engine'
    """
    check_precision(precision)
    return f"{graph}.{gpu_slug(gpu_name)}.trt{trt_version}.{precision}.engine"


def timing_cache_file_name(gpu_name: str, trt_version: str) -> str:
    """Return the file name of the TensorRT timing cache shared by a bundle's engine builds.

    Example:
        >>> timing_cache_file_name("Orin", "8.6.2")
        'timing.orin.trt8.6.2.cache'
    """
    return f"timing.{gpu_slug(gpu_name)}.trt{trt_version}.cache"


def engine_gpu_name(device_id: int = 0) -> str:
    """Return the GPU name that engines for CUDA device ``device_id`` are named for.

    Both ``maskaudit build-engine`` and the ``trt`` backend call this, so an engine is found on
    the machine that built it even when the GPU cannot be told.

    Args:
        device_id: The CUDA device. Defaults to 0.

    Returns:
        :func:`detect_gpu_name`'s answer, or ``UNKNOWN_GPU`` (with a warning) when it has none.
    """
    name = detect_gpu_name(device_id)
    if name is None:
        logger.warning("cannot tell the GPU's name; engines are named for %r", UNKNOWN_GPU)
        return UNKNOWN_GPU
    return name


def detect_gpu_name(device_id: int = 0) -> str | None:
    """Return the name of CUDA device ``device_id``, or None when it cannot be told.

    Tries ``cuda-python`` (``cudaGetDeviceProperties``), then ``nvidia-smi``, then the Jetson
    device-tree model string.

    Args:
        device_id: The CUDA device. Defaults to 0.

    Returns:
        The name (``NVIDIA H200``), or None.
    """
    try:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # cuda-python before 12.6
        error, props = cudart.cudaGetDeviceProperties(device_id)
        if int(error) == 0:
            name = props.name
            return (
                name.decode(errors="replace").rstrip("\x00")
                if isinstance(name, bytes)
                else str(name)
            )
    except Exception:  # noqa: BLE001 - any failure: try the next source
        logger.debug("cuda-python cannot name the GPU", exc_info=True)
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", str(device_id)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        if out:
            return out.splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError):
        logger.debug("nvidia-smi cannot name the GPU", exc_info=True)
    model = Path("/proc/device-tree/model")
    if model.is_file():
        return model.read_text(errors="replace").rstrip("\x00").strip() or None
    return None
