"""ONNX Runtime backends: ``ort-cpu``, ``ort-cuda`` and ``ort-trt``.

After each session starts, the providers it really got (``session.get_providers()``) are
checked: onnxruntime-gpu quietly falls back to the CPU when the CUDA or TensorRT libraries are
missing, and a verdict must never claim a backend that did not run. Asking for a backend whose
provider is absent or fell back raises a :class:`BackendError` that says why and how to fix it.

``ort-trt`` runs ONNX Runtime's TensorRT provider with engine and timing caches in the bundle's
``engines/ort-trt/`` (or, for a read-only bundle, in ``~/.cache/maskaudit/engines/``), explicit
optimisation profiles (min/opt/max) for every dynamic axis, FP16 on, and INT8 on for the int8
(QDQ) graphs; TensorRT then follows the graph's quantisation (explicit quantisation). The
profiles and provider options come from :mod:`maskaudit.export.trt_options`, the module that
``maskaudit build-engine`` builds its engines with.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from maskaudit.errors import BackendError
from maskaudit.export.manifest import describe_ort_value
from maskaudit.export.trt_options import (
    ORT_TRT_CACHE_DIR,
    ProfileLimits,
    engine_precision,
    trt_provider_options,
)
from maskaudit.runtime.backends.base import LoadedBackend
from maskaudit.runtime.bundle import GRAPHS, Bundle

logger = logging.getLogger(__name__)

PROVIDERS: dict[str, str] = {
    "ort-cpu": "CPUExecutionProvider",
    "ort-cuda": "CUDAExecutionProvider",
    "ort-trt": "TensorrtExecutionProvider",
}
"""The onnxruntime execution provider each ONNX Runtime backend stands for."""

DEFAULT_THREADS = 1
"""Intra-op threads per session when none are given. The graphs are small (82 M MACs a frame):
one thread each runs them fastest on CPUs measured here and leaves the other cores to decoding
and preprocessing, which the stream overlaps with the graphs (``benchmarks/bench_stream.py``)."""

GPU_SWAP = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu"
"""How to get the GPU build of onnxruntime (the two packages must never be installed together)."""


@dataclass(frozen=True)
class OrtOptions:
    """Options of the ONNX Runtime backends.

    Attributes:
        threads: Intra-op threads per session; 0 is onnxruntime's choice (one per physical
            core). Defaults to None: ``DEFAULT_THREADS`` (1).
        inter_threads: Inter-op threads per session. Defaults to None (onnxruntime's choice).
        device_id: CUDA device for ``ort-cuda`` and ``ort-trt``. Defaults to 0.
        limits: Profile ranges for ``ort-trt`` and the warm-up (the ones ``maskaudit
            build-engine`` uses). Defaults to ``ProfileLimits()``.
        cache_dir: Where ``ort-trt`` keeps engines and timing caches. Defaults to None: the
            bundle's ``engines/ort-trt`` if writable, else ``~/.cache/maskaudit/engines``.
        workspace_mb: TensorRT builder workspace for ``ort-trt``, in MiB. Defaults to 2048.
    """

    threads: int | None = None
    inter_threads: int | None = None
    device_id: int = 0
    limits: ProfileLimits = ProfileLimits()
    cache_dir: Path | None = None
    workspace_mb: int = 2048


def installed_onnxruntime() -> str:
    """Return which onnxruntime distribution is installed, e.g. ``onnxruntime 1.32.0 (CPU)``."""
    import onnxruntime as ort

    for dist in ("onnxruntime-gpu", "onnxruntime"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        kind = "GPU" if dist.endswith("gpu") else "CPU"
        return f"{dist} {version} ({kind} build)"
    return f"onnxruntime {ort.__version__}"


def check_available(name: str) -> None:
    """Refuse an ONNX Runtime backend whose provider this onnxruntime does not have.

    Args:
        name: ``ort-cpu``, ``ort-cuda`` or ``ort-trt``.

    Raises:
        BackendError: If the provider is not compiled into the installed onnxruntime; the
            message says which package to install.
    """
    import onnxruntime as ort

    provider = PROVIDERS[name]
    available = ort.get_available_providers()
    if provider in available:
        return
    installed = installed_onnxruntime()
    if "GPU" not in installed:
        fix = GPU_SWAP
    elif name == "ort-trt":
        fix = (
            "install TensorRT (pip install tensorrt, or JetPack on Jetson) and put its "
            "libraries on LD_LIBRARY_PATH"
        )
    else:
        fix = "install the CUDA and cuDNN versions this onnxruntime-gpu was built for"
    raise BackendError(
        f"backend {name}: onnxruntime has no {provider} here (installed: {installed}; "
        f"providers: {', '.join(available)}): {fix}"
    )


def session_options(threads: int | None = None, inter_threads: int | None = None) -> Any:
    """Build onnxruntime session options with the thread counts and full graph optimisation.

    Args:
        threads: Intra-op threads; 0 is onnxruntime's choice. Defaults to None:
            ``DEFAULT_THREADS`` (1).
        inter_threads: Inter-op threads. Defaults to None (onnxruntime's choice).

    Returns:
        An ``onnxruntime.SessionOptions``.

    Raises:
        BackendError: If a thread count is negative.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    threads = DEFAULT_THREADS if threads is None else threads
    for value, attr in ((threads, "intra_op_num_threads"), (inter_threads, "inter_op_num_threads")):
        if value is not None:
            if value < 0:
                raise BackendError(f"thread count {value} is negative: pass 0 (automatic) or more")
            setattr(options, attr, int(value))
    return options


def _cache_dir(bundle: Bundle, options: OrtOptions) -> Path:
    """Return a writable folder for the TensorRT provider's engine and timing caches."""
    if options.cache_dir is not None:
        folder = Path(options.cache_dir)
    else:
        folder = bundle.engines_dir / ORT_TRT_CACHE_DIR
        probe = folder if folder.exists() else bundle.path
        if not os.access(probe, os.W_OK):
            tag = hashlib.sha256(str(bundle.path).encode()).hexdigest()[:12]
            folder = Path.home() / ".cache" / "maskaudit" / "engines" / tag / ORT_TRT_CACHE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def providers_for(
    name: str, bundle: Bundle, graph: str, precision: str, options: OrtOptions
) -> list[Any]:
    """Return the onnxruntime provider list (with options) for one graph on one backend.

    Args:
        name: ``ort-cpu``, ``ort-cuda`` or ``ort-trt``.
        bundle: The bundle.
        graph: The graph's name.
        precision: The precision of the graph file.
        options: The backend options.

    Returns:
        A list for ``InferenceSession(providers=...)``; the CPU provider is always last, for the
        nodes a GPU provider does not take. For ``ort-trt``, the TensorRT provider's options
        are :func:`~maskaudit.export.trt_options.trt_provider_options` for the engine precision
        of the file (``fp32``: TensorRT FP32; ``int8`` or ``int8-trt``: INT8 and FP16 on, the
        QDQ nodes fix where INT8 runs), with the caches in the bundle's ``engines/ort-trt``.
    """
    cuda = ("CUDAExecutionProvider", {"device_id": options.device_id})
    if name == "ort-trt":
        trt_options = trt_provider_options(
            graph,
            bundle.signature(graph)["inputs"],
            engine_precision(precision),
            _cache_dir(bundle, options),
            options.limits,
            options.workspace_mb,
            options.device_id,
        )
        return [("TensorrtExecutionProvider", trt_options), cuda, "CPUExecutionProvider"]
    if name == "ort-cuda":
        return [cuda, "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OrtRunner:
    """Runs one graph in an onnxruntime session.

    Args:
        graph: The graph's name.
        session: The started ``onnxruntime.InferenceSession``.
    """

    def __init__(self, graph: str, session: Any) -> None:
        self.graph = graph
        self.session = session
        self.input_names = [v.name for v in session.get_inputs()]
        self.output_names = [v.name for v in session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph; ``feeds`` may hold extra arrays, only the graph's inputs are passed."""
        outputs = self.session.run(self.output_names, {k: feeds[k] for k in self.input_names})
        return dict(zip(self.output_names, outputs, strict=True))


def _start_session(
    name: str, bundle: Bundle, graph: str, precision: str, options: OrtOptions
) -> OrtRunner:
    """Start one graph's session (``precision``: the file's), check providers and signature."""
    import onnxruntime as ort

    path = bundle.path / bundle.manifest["graphs"][graph][precision]
    try:
        session = ort.InferenceSession(
            str(path),
            session_options(options.threads, options.inter_threads),
            providers=providers_for(name, bundle, graph, precision, options),
        )
    except Exception as err:  # onnxruntime raises untyped errors for every failure
        raise BackendError(f"backend {name} cannot load {path.name}: {err}") from err
    got = session.get_providers()
    if PROVIDERS[name] not in got:
        raise BackendError(
            f"backend {name}: the {graph} session fell back to {', '.join(got)} (installed: "
            f"{installed_onnxruntime()}): the {PROVIDERS[name]} libraries did not load; check "
            "that the CUDA, cuDNN and TensorRT versions match this onnxruntime build"
        )
    bundle.check_signature(
        graph,
        [describe_ort_value(v) for v in session.get_inputs()],
        [describe_ort_value(v) for v in session.get_outputs()],
        path.name,
    )
    return OrtRunner(graph, session)


def open_ort(
    name: str, bundle: Bundle, precision: str, options: OrtOptions | None = None
) -> LoadedBackend:
    """Start the four graphs of a bundle on an ONNX Runtime backend.

    Args:
        name: ``ort-cpu``, ``ort-cuda`` or ``ort-trt``.
        bundle: The checked bundle.
        precision: ``fp32`` or ``int8``.
        options: Thread counts, device and TensorRT settings. Defaults to ``OrtOptions()``.

    Returns:
        The loaded backend; ``name`` is what really runs.

    Raises:
        BackendError: If the provider is missing here or the session fell back from it.
        BundleError: If a graph is missing in ``precision`` or its signature differs.
    """
    options = options or OrtOptions()
    check_available(name)
    runners: dict[str, Any] = {}
    precisions: dict[str, str] = {}
    providers: dict[str, list[str]] = {}
    for graph in GRAPHS:
        precisions[graph] = bundle.resolve_precision(graph, precision, gpu=name != "ort-cpu")
        runner = _start_session(name, bundle, graph, precisions[graph], options)
        runners[graph] = runner
        providers[graph] = runner.session.get_providers()
    logger.info("backend %s (%s): %s", name, precision, providers["audit_head"])
    return LoadedBackend(name, precision, runners, precisions, name, "", providers)
