"""Build TensorRT engines for a bundle with TensorRT's Python API (imported lazily).

One engine per trained graph and precision, written to ``<bundle>/engines/`` under the name
:func:`~maskaudit.export.trt_options.engine_file_name` gives it. INT8 engines use explicit
quantization: TensorRT reads the signed, symmetric QDQ graph (``<graph>.int8-trt.onnx``) and
runs INT8 exactly where its Q/DQ nodes say, so no calibrator is involved. One optimisation
profile covers the dynamic axes (:class:`~maskaudit.export.trt_options.ProfileLimits`), and a
timing cache in ``engines/`` makes rebuilds fast.

The calls follow TensorRT 10 (``create_network(0)``: explicit batch is the only mode;
``build_serialized_network``; ``set_memory_pool_limit``); TensorRT 8.6 takes the same calls
except the network flag, which is set here when the module still has it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maskaudit.errors import BackendError, BundleError
from maskaudit.export import contract
from maskaudit.export.manifest import ENGINES_DIR, MANIFEST_NAME
from maskaudit.export.trt_options import (
    ENGINE_GRAPHS,
    ProfileLimits,
    builder_flags,
    check_precision,
    engine_file_name,
    engine_gpu_name,
    profile_shapes,
    source_precision,
    timing_cache_file_name,
)

logger = logging.getLogger(__name__)

MISSING_TENSORRT = (
    "building engines needs the Python package `tensorrt`, which is not installed here: "
    "pip install tensorrt (desktop and server GPUs) or use the TensorRT of JetPack (Jetson); "
    "without it, --backend ort-trt builds engines through onnxruntime-gpu at first run"
)


def import_tensorrt() -> Any:
    """Import TensorRT.

    Returns:
        The ``tensorrt`` module.

    Raises:
        BackendError: Naming the missing package ``tensorrt`` and how to install it.
    """
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(MISSING_TENSORRT) from exc
    return tensorrt


@dataclass
class EngineBuild:
    """One built engine.

    Attributes:
        graph: The graph's name.
        precision: ``fp32``, ``fp16`` or ``int8``.
        onnx: The ONNX file it was built from.
        engine: The engine file.
        seconds: Build time.
        profile: ``{input: [min, opt, max]}`` shapes.
    """

    graph: str
    precision: str
    onnx: Path
    engine: Path
    seconds: float
    profile: dict[str, list[list[int]]]


def _network(trt: Any, builder: Any) -> Any:
    """Create an explicit-batch network (the only kind in TensorRT 10)."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    return builder.create_network(0 if flag is None else 1 << int(flag))


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    precision: str,
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]],
    workspace_mb: int = 2048,
    timing_cache: Path | None = None,
    trt: Any = None,
) -> Path:
    """Build and write one engine.

    Args:
        onnx_path: The ONNX graph (fp32, or the ``int8-trt`` QDQ graph for INT8).
        engine_path: The engine file to write.
        precision: ``fp32``, ``fp16`` or ``int8``.
        shapes: ``{input: (min, opt, max)}`` of every input (see
            :func:`~maskaudit.export.trt_options.profile_shapes`).
        workspace_mb: Builder workspace in MiB. Defaults to 2048.
        timing_cache: Timing cache file, read if present and written back. Defaults to None.
        trt: The ``tensorrt`` module. Defaults to None: imported here.

    Returns:
        ``engine_path``.

    Raises:
        BackendError: If TensorRT is missing, cannot parse the graph or cannot build it.
    """
    trt = trt or import_tensorrt()
    log = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(log)
    network = _network(trt, builder)
    parser = trt.OnnxParser(network, log)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT cannot parse {onnx_path.name}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    for flag in builder_flags(precision):
        config.set_flag(getattr(trt.BuilderFlag, flag))
    profile = builder.create_optimization_profile()
    for name, (low, opt, high) in shapes.items():
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
    cache = None
    if timing_cache is not None:
        data = timing_cache.read_bytes() if timing_cache.is_file() else b""
        cache = config.create_timing_cache(data)
        config.set_timing_cache(cache, ignore_mismatch=False)

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(
            f"TensorRT could not build an engine from {onnx_path.name} ({precision}); rerun with "
            "-vv for TensorRT's log, or raise --workspace-mb"
        )
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    if cache is not None and timing_cache is not None:
        timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    return engine_path


def _read_manifest(bundle_dir: Path) -> dict:
    path = bundle_dir / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(
            f"{bundle_dir} has no {MANIFEST_NAME}: pass a bundle folder written by "
            "`maskaudit export`"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def build_engines(
    bundle_dir: str | Path,
    precision: str = "fp16",
    limits: ProfileLimits | None = None,
    workspace_mb: int = 2048,
    graphs: tuple[str, ...] = ENGINE_GRAPHS,
    device_id: int = 0,
    trt: Any = None,
) -> list[EngineBuild]:
    """Build the engines of a bundle's trained graphs for this GPU and TensorRT version.

    Args:
        bundle_dir: The bundle folder (with ``manifest.json``).
        precision: ``fp32``, ``fp16`` or ``int8``. Defaults to ``fp16``.
        limits: Profile ranges. Defaults to ``ProfileLimits()``.
        workspace_mb: Builder workspace in MiB. Defaults to 2048.
        graphs: Graphs to build. Defaults to ``ENGINE_GRAPHS`` (the three trained graphs).
        device_id: CUDA device whose name goes into the file names. Defaults to 0.
        trt: The ``tensorrt`` module. Defaults to None: imported here.

    Returns:
        The builds, in graph order.

    Raises:
        BackendError: If TensorRT is missing or a build fails.
        BundleError: If the bundle lacks the manifest or the source graph (for ``int8``: the
            ``int8-trt`` variant, made by ``maskaudit export --trt-variant``).
        ConfigError: On an unknown precision.
    """
    check_precision(precision)
    trt = trt or import_tensorrt()
    bundle_dir = Path(bundle_dir)
    manifest = _read_manifest(bundle_dir)
    gpu = engine_gpu_name(device_id)
    version = str(trt.__version__)
    engines = bundle_dir / ENGINES_DIR
    timing = engines / timing_cache_file_name(gpu, version)
    source = source_precision(precision)
    builds = []
    for graph in graphs:
        entry = manifest.get("graphs", {}).get(graph)
        if entry is None or source not in entry:
            hint = " (export with --trt-variant)" if source == "int8-trt" else ""
            raise BundleError(
                f"{bundle_dir} has no {contract.graph_file(graph, source)} to build the "
                f"{precision} engine of {graph} from{hint}"
            )
        onnx_path = bundle_dir / entry[source]
        shapes = profile_shapes(graph, entry["inputs"], limits)
        target = engines / engine_file_name(graph, gpu, version, precision)
        logger.info("building %s from %s", target.name, onnx_path.name)
        start = time.perf_counter()
        build_engine(onnx_path, target, precision, shapes, workspace_mb, timing, trt)
        builds.append(
            EngineBuild(
                graph,
                precision,
                onnx_path,
                target,
                time.perf_counter() - start,
                {k: [list(s) for s in v] for k, v in shapes.items()},
            )
        )
    return builds
