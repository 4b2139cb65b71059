"""The ``trt`` backend: TensorRT engines run through TensorRT's Python API.

Engines are not portable across GPUs or TensorRT versions, so they live in the bundle's
``engines/`` folder named by graph, GPU, TensorRT version and precision, e.g.
``audit_head.nvidia-h200.trt10.9.0.int8.engine``. ``maskaudit build-engine`` writes them (from
the QDQ ONNX graphs by explicit quantisation for ``int8``); the name, the GPU name it holds and
the engine precision of each bundle graph all come from :mod:`maskaudit.export.trt_options`,
so :func:`find_engines` looks up exactly what the build wrote.

Running follows TensorRT's documented tensor API: ``set_input_shape``, ``set_tensor_address``
and ``execute_async_v3`` on a CUDA stream, with device memory from ``cuda-python``.
``tensorrt`` and ``cuda-python`` are imported only when this backend is used.

The text encoder runs once per expression: without its engine it runs in ONNX Runtime (on CUDA
where available), and the backend says so in its note.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.errors import BackendError
from maskaudit.export.trt_options import (
    ENGINE_GRAPHS,
    engine_file_name,
    engine_gpu_name,
    engine_precision,
)
from maskaudit.runtime.backends.base import LoadedBackend
from maskaudit.runtime.bundle import GRAPHS, Bundle

logger = logging.getLogger(__name__)

MISSING_TENSORRT = (
    "backend trt needs the Python package tensorrt, which is not installed here: pip install "
    "tensorrt (desktop GPUs; on Jetson it comes with JetPack), or choose --backend ort-trt, "
    "ort-cuda or ort-cpu"
)
MISSING_CUDA_PYTHON = (
    "backend trt needs the Python package cuda-python for device memory, which is not installed "
    "here: pip install cuda-python, or choose --backend ort-trt, ort-cuda or ort-cpu"
)


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


def find_engines(bundle: Bundle, precision: str, gpu: str, trt_version: str) -> dict[str, Path]:
    """Find a bundle's engines for one GPU and TensorRT version.

    Each graph runs the engine of its file's engine precision
    (:func:`~maskaudit.export.trt_options.engine_precision`), named by
    :func:`~maskaudit.export.trt_options.engine_file_name` as ``maskaudit build-engine`` names
    it. The graphs of ``ENGINE_GRAPHS`` need their engine; the text encoder's is optional.

    Args:
        bundle: The checked bundle.
        precision: ``fp32`` or ``int8``.
        gpu: The GPU's name (as :func:`~maskaudit.export.trt_options.engine_gpu_name` gives it).
        trt_version: TensorRT's version (``tensorrt.__version__``).

    Returns:
        ``{graph: engine file}`` of every graph that has an engine, in ``GRAPHS`` order.

    Raises:
        BackendError: If a needed engine is not in ``<bundle>/engines``; the message says the
            ``maskaudit build-engine`` call that builds it.
        BundleError: If the bundle lacks a graph in ``precision``.
    """
    found: dict[str, Path] = {}
    for graph in GRAPHS:
        graph_precision = bundle.resolve_precision(graph, precision, gpu=True)
        name = engine_file_name(graph, gpu, trt_version, engine_precision(graph_precision))
        path = bundle.engines_dir / name
        if path.is_file():
            found[graph] = path
        elif graph in ENGINE_GRAPHS:
            raise BackendError(
                f"backend trt: no engine {path.name} in {bundle.engines_dir} for this GPU ({gpu}) "
                f"and TensorRT {trt_version}: build it with `maskaudit build-engine --bundle "
                f"{bundle.path} --precision {precision}`, or choose --backend ort-trt"
            )
    return found


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
    import_cudart()
    gpu = engine_gpu_name(device_id)
    precisions = {g: bundle.resolve_precision(g, precision, gpu=True) for g in GRAPHS}
    runners: dict[str, Any] = {}
    note = ""
    for graph, path in find_engines(bundle, precision, gpu, trt.__version__).items():
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
