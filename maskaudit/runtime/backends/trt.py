"""The ``trt`` backend: TensorRT engines run through TensorRT's Python API.

Engines are not portable across GPUs or TensorRT versions, so they live in the bundle's
``engines/`` folder named by graph, precision, GPU and TensorRT version
(:func:`engine_file_name`), e.g. ``audit_head.int8.nvidia-h200.trt10.9.0.engine``. They are
built from the QDQ ONNX graphs by explicit quantisation (``maskaudit build-engine``; the
:func:`build_plan` here lists the builder flags and optimisation profiles to use).

Running follows TensorRT's documented tensor API: ``set_input_shape``, ``set_tensor_address``
and ``execute_async_v3`` on a CUDA stream, with device memory from ``cuda-python``.
``tensorrt`` and ``cuda-python`` are imported only when this backend is used.

The text encoder runs once per expression: without its engine it runs in ONNX Runtime (on CUDA
where available), and the backend says so in its note.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.errors import BackendError
from maskaudit.runtime.backends.base import LoadedBackend
from maskaudit.runtime.backends.ort import ProfileLimits
from maskaudit.runtime.bundle import GRAPHS, Bundle

logger = logging.getLogger(__name__)

ENGINE_GRAPHS: tuple[str, ...] = ("frame_encoder", "audio_encoder", "audit_head")
"""Graphs the ``trt`` backend needs engines for; the text encoder's engine is optional."""

MISSING_TENSORRT = (
    "backend trt needs the Python package tensorrt, which is not installed here: pip install "
    "tensorrt (desktop GPUs; on Jetson it comes with JetPack), or choose --backend ort-trt, "
    "ort-cuda or ort-cpu"
)
MISSING_CUDA_PYTHON = (
    "backend trt needs the Python package cuda-python for device memory, which is not installed "
    "here: pip install cuda-python, or choose --backend ort-trt, ort-cuda or ort-cpu"
)


def gpu_slug(name: str) -> str:
    """Turn a GPU name into a file-name part, e.g. ``NVIDIA H200`` -> ``nvidia-h200``.

    Args:
        name: The GPU's name as CUDA reports it.

    Returns:
        Lower-case letters, digits and single dashes.
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gpu"


def engine_file_name(graph: str, precision: str, gpu_name: str, trt_version: str) -> str:
    """Return the file name of a graph's engine for one GPU and TensorRT version.

    Args:
        graph: The graph's name.
        precision: ``fp32`` or ``int8``.
        gpu_name: The GPU's name (``NVIDIA H200``, ``Orin``).
        trt_version: TensorRT's version (``tensorrt.__version__``).

    Returns:
        ``<graph>.<precision>.<gpu slug>.trt<version>.engine``.

    Example:
        >>> engine_file_name("audit_head", "int8", "NVIDIA H200", "10.9.0")
        'audit_head.int8.nvidia-h200.trt10.9.0.engine'
    """
    return f"{graph}.{precision}.{gpu_slug(gpu_name)}.trt{trt_version}.engine"


def timing_cache_file_name(gpu_name: str, trt_version: str) -> str:
    """Return the file name of the TensorRT timing cache for one GPU and TensorRT version.

    Example:
        >>> timing_cache_file_name("Orin", "8.6.2")
        'timing.orin.trt8.6.2.cache'
    """
    return f"timing.{gpu_slug(gpu_name)}.trt{trt_version}.cache"


def build_plan(
    bundle: Bundle, graph: str, precision: str, limits: ProfileLimits | None = None
) -> dict[str, Any]:
    """Return how to build one graph's engine: the ONNX file, builder flags and the profile.

    Args:
        bundle: The bundle.
        graph: The graph's name.
        precision: ``fp32`` (no reduced-precision flags) or ``int8`` (``INT8`` and ``FP16``
            flags; the graph's QDQ nodes decide where INT8 runs; built from the ``int8-trt``
            graph where the bundle has it).
        limits: Ranges of the dynamic axes. Defaults to ``ProfileLimits()``.

    Returns:
        ``{"onnx": Path, "flags": [...], "profile": {input: (min, opt, max) shapes}}``; the
        engine is named with :func:`engine_file_name` and the same ``precision``.
    """
    limits = limits or ProfileLimits()
    profile: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {}
    for value in bundle.signature(graph)["inputs"]:
        ranges = [
            (d, d, d) if isinstance(d, int) else limits.axis(graph, value["name"], axis)
            for axis, d in enumerate(value["shape"])
        ]
        profile[value["name"]] = tuple(tuple(r[i] for r in ranges) for i in range(3))  # type: ignore[assignment]
    flags = ["INT8", "FP16"] if precision == "int8" else []
    onnx = bundle.graph_path(graph, precision, gpu=True)
    return {"onnx": onnx, "flags": flags, "profile": profile}


def import_tensorrt() -> Any:
    """Import ``tensorrt``, or raise a BackendError naming the package and the fix."""
    try:
        import tensorrt
    except ImportError as err:
        raise BackendError(MISSING_TENSORRT) from err
    return tensorrt


def import_cudart() -> Any:
    """Import the CUDA runtime bindings of ``cuda-python``, or raise a BackendError."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python before 12.6
        except ImportError as err:
            raise BackendError(MISSING_CUDA_PYTHON) from err
    return cudart


def _cuda(result: tuple, cudart: Any, what: str) -> Any:
    """Unpack a cuda-python call's ``(error, value...)`` result, raising on an error."""
    error, *values = result
    if error != cudart.cudaError_t.cudaSuccess:
        raise BackendError(f"CUDA {what} failed: {error}")
    return values[0] if len(values) == 1 else (values or None)


def gpu_name(device_id: int = 0) -> str:
    """Return the name of CUDA device ``device_id`` (needs ``cuda-python``)."""
    cudart = import_cudart()
    props = _cuda(cudart.cudaGetDeviceProperties(device_id), cudart, "cudaGetDeviceProperties")
    name = props.name
    return name.decode(errors="replace").rstrip("\x00") if isinstance(name, bytes) else str(name)


class TrtRunner:
    """Runs one TensorRT engine with the tensor API on its own CUDA stream.

    Args:
        graph: The graph's name.
        path: The serialized engine.
        device_id: CUDA device. Defaults to 0.

    Raises:
        BackendError: If TensorRT or cuda-python is missing, or the engine does not load.
    """

    def __init__(self, graph: str, path: Path, device_id: int = 0) -> None:
        self.trt = import_tensorrt()
        self.cudart = import_cudart()
        self.graph = graph
        self.path = path
        _cuda(self.cudart.cudaSetDevice(device_id), self.cudart, "cudaSetDevice")
        self._logger = self.trt.Logger(self.trt.Logger.WARNING)
        self._runtime = self.trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise BackendError(
                f"TensorRT engine {path.name} cannot be deserialized (built by another TensorRT "
                "version or for another GPU?): rebuild it with `maskaudit build-engine`"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = [self.engine.get_tensor_mode(n) == self.trt.TensorIOMode.INPUT for n in names]
        self.input_names = [n for n, i in zip(names, is_input, strict=True) if i]
        self.output_names = [n for n, i in zip(names, is_input, strict=True) if not i]
        self.stream = _cuda(self.cudart.cudaStreamCreate(), self.cudart, "cudaStreamCreate")
        self._buffers: dict[str, tuple[int, int]] = {}

    def describe(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Return the engine's inputs and outputs as manifest-style dicts (``-1`` dynamic)."""

        def one(name: str) -> dict[str, Any]:
            dtype = np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(name))).name
            shape = [int(d) if d >= 0 else "?" for d in self.engine.get_tensor_shape(name)]
            return {"name": name, "dtype": dtype, "shape": shape}

        return [one(n) for n in self.input_names], [one(n) for n in self.output_names]

    def _buffer(self, name: str, nbytes: int) -> int:
        """Return a device buffer of at least ``nbytes`` for tensor ``name``, grown as needed."""
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                _cuda(self.cudart.cudaFree(ptr), self.cudart, "cudaFree")
            ptr = int(_cuda(self.cudart.cudaMalloc(max(nbytes, 1)), self.cudart, "cudaMalloc"))
            self._buffers[name] = (ptr, nbytes)
        return ptr

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy the inputs in, run the engine, copy the outputs back."""
        cudart = self.cudart
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        keep = []
        for name in self.input_names:
            dtype = self.trt.nptype(self.engine.get_tensor_dtype(name))
            array = np.ascontiguousarray(feeds[name], dtype=dtype)
            keep.append(array)
            self.context.set_input_shape(name, array.shape)
            ptr = self._buffer(name, array.nbytes)
            _cuda(
                cudart.cudaMemcpyAsync(ptr, array.ctypes.data, array.nbytes, h2d, self.stream),
                cudart,
                "cudaMemcpyAsync",
            )
            self.context.set_tensor_address(name, ptr)
        outputs: dict[str, np.ndarray] = {}
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = self.trt.nptype(self.engine.get_tensor_dtype(name))
            outputs[name] = np.empty(shape, dtype=dtype)
            self.context.set_tensor_address(name, self._buffer(name, outputs[name].nbytes))
        if not self.context.execute_async_v3(self.stream):
            raise BackendError(f"TensorRT engine {self.path.name} failed to run")
        for name, array in outputs.items():
            ptr = self._buffers[name][0]
            _cuda(
                cudart.cudaMemcpyAsync(array.ctypes.data, ptr, array.nbytes, d2h, self.stream),
                cudart,
                "cudaMemcpyAsync",
            )
        _cuda(cudart.cudaStreamSynchronize(self.stream), cudart, "cudaStreamSynchronize")
        return outputs

    def __del__(self) -> None:
        cudart = getattr(self, "cudart", None)
        for ptr, _ in getattr(self, "_buffers", {}).values():
            if cudart is not None and ptr:
                cudart.cudaFree(ptr)


def open_trt(bundle: Bundle, precision: str, device_id: int = 0) -> LoadedBackend:
    """Load a bundle's TensorRT engines for this GPU and TensorRT version.

    Args:
        bundle: The checked bundle.
        precision: ``fp32`` or ``int8``.
        device_id: CUDA device. Defaults to 0.

    Returns:
        The loaded backend (``name`` ``trt``).

    Raises:
        BackendError: If TensorRT or cuda-python is missing, or an engine for this GPU and
            TensorRT version is not in ``<bundle>/engines``.
    """
    trt = import_tensorrt()
    gpu = gpu_name(device_id)
    runners: dict[str, Any] = {}
    precisions: dict[str, str] = {}
    note = ""
    for graph in GRAPHS:
        precisions[graph] = bundle.resolve_precision(graph, precision, gpu=True)
        engine_precision = "fp32" if precisions[graph] == "fp32" else "int8"
        name = engine_file_name(graph, engine_precision, gpu, trt.__version__)
        path = bundle.engines_dir / name
        if not path.is_file():
            if graph not in ENGINE_GRAPHS:
                continue
            raise BackendError(
                f"backend trt: no engine {path.name} in {bundle.engines_dir} for this GPU ({gpu}) "
                f"and TensorRT {trt.__version__}: build it with `maskaudit build-engine --bundle "
                f"{bundle.path} --precision {precision}`, or choose --backend ort-trt"
            )
        runner = TrtRunner(graph, path, device_id)
        inputs, outputs = runner.describe()
        bundle.check_signature(graph, inputs, outputs, path.name)
        runners[graph] = runner
    if "text_encoder" not in runners:
        from maskaudit.runtime.backends.ort import OrtOptions, _start_session, check_available

        for fallback in ("ort-cuda", "ort-cpu"):
            try:
                check_available(fallback)
                runners["text_encoder"] = _start_session(
                    fallback,
                    bundle,
                    "text_encoder",
                    precisions["text_encoder"],
                    OrtOptions(device_id=device_id),
                )
            except BackendError:
                continue
            note = f"text encoder on {fallback} (no TensorRT engine for it)"
            break
    logger.info(
        "backend trt on %s, TensorRT %s%s", gpu, trt.__version__, f"; {note}" if note else ""
    )
    return LoadedBackend("trt", precision, runners, precisions, "trt", note, {})
