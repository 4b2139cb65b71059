"""Backends that run a bundle's graphs: ``trt``, ``ort-trt``, ``ort-cuda``, ``ort-cpu``, ``auto``.

:func:`open_backend` is the one entry point. ``auto`` tries ``trt``, ``ort-trt``, ``ort-cuda``
and ``ort-cpu`` in that order and keeps the first that really loads; when that is not the
first, the reasons are logged and kept in ``LoadedBackend.note`` (each verdict's
``backend_note``).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from maskaudit.errors import BackendError, ConfigError
from maskaudit.export.trt_options import ProfileLimits, profile_shapes
from maskaudit.runtime.backends.base import BACKEND_NAMES, GraphRunner, LoadedBackend
from maskaudit.runtime.backends.ort import OrtOptions, open_ort
from maskaudit.runtime.bundle import GRAPHS, Bundle

logger = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("auto", *BACKEND_NAMES)
"""Every name ``--backend`` accepts."""

PRECISIONS: tuple[str, ...] = ("int8", "fp32")
"""Every name ``--precision`` accepts."""

__all__ = [
    "BACKENDS",
    "BACKEND_NAMES",
    "PRECISIONS",
    "GraphRunner",
    "LoadedBackend",
    "OrtOptions",
    "ProfileLimits",
    "open_backend",
    "warm_up",
]


def _open_one(name: str, bundle: Bundle, precision: str, options: OrtOptions) -> LoadedBackend:
    """Open one concrete backend."""
    if name == "trt":
        from maskaudit.runtime.backends.trt import open_trt

        return open_trt(bundle, precision, options.device_id)
    return open_ort(name, bundle, precision, options)


def _missing(name: str) -> str | None:
    """Return a short reason why backend ``name`` is not installed here, or None if it is."""
    import importlib.util

    import onnxruntime as ort

    from maskaudit.runtime.backends.ort import PROVIDERS, installed_onnxruntime

    if name == "trt":
        return None if importlib.util.find_spec("tensorrt") else "no tensorrt"
    if PROVIDERS[name] not in ort.get_available_providers():
        installed = installed_onnxruntime()
        return "CPU onnxruntime" if "CPU build" in installed else f"no {PROVIDERS[name]}"
    return None


def warm_up(backend: LoadedBackend, bundle: Bundle, limits: ProfileLimits | None = None) -> None:
    """Run every graph once on zeros at the profile's optimal shapes.

    The first run of a GPU backend allocates memory and picks kernels; doing it here keeps that
    cost out of the first verdict's latency.

    Args:
        backend: The loaded backend.
        bundle: Its bundle (for the input signatures).
        limits: Ranges of the dynamic axes (the ``opt`` values are used). Defaults to
            ``ProfileLimits()``.
    """
    for graph in GRAPHS:
        inputs = bundle.signature(graph)["inputs"]
        shapes = profile_shapes(graph, inputs, limits)
        feeds = {v["name"]: np.zeros(shapes[v["name"]][1], dtype=v["dtype"]) for v in inputs}
        backend.runners[graph].run(feeds)
    logger.debug("warm-up done on %s", backend.name)


def open_backend(
    bundle: Bundle,
    name: str = "auto",
    precision: str = "int8",
    options: OrtOptions | None = None,
    warmup: bool | None = None,
) -> LoadedBackend:
    """Start a bundle's graphs on a backend, and report the backend that really runs.

    Args:
        bundle: The checked bundle.
        name: One of ``BACKENDS``. Defaults to ``"auto"``: the first of ``trt``, ``ort-trt``,
            ``ort-cuda``, ``ort-cpu`` that loads.
        precision: ``int8`` or ``fp32``. Defaults to ``"int8"``.
        options: Threads, device and TensorRT profile settings. Defaults to ``OrtOptions()``.
        warmup: Whether to run every graph once before returning. Defaults to None: on GPU
            backends only.

    Returns:
        The loaded backend; ``requested`` is ``name`` and ``note`` says why ``auto`` skipped the
        faster backends.

    Raises:
        ConfigError: If ``name`` or ``precision`` is unknown.
        BackendError: If the named backend cannot run here (or, for ``auto``, none can).
        BundleError: If the bundle lacks a graph in ``precision``.
    """
    options = options or OrtOptions()
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")

    if name != "auto":
        loaded = replace(_open_one(name, bundle, precision, options), requested=name)
    else:
        loaded = _open_auto(bundle, precision, options)
    if warmup if warmup is not None else loaded.name != "ort-cpu":
        warm_up(loaded, bundle, options.limits)
    return loaded


def _open_auto(bundle: Bundle, precision: str, options: OrtOptions) -> LoadedBackend:
    """Try every concrete backend, fastest first; keep the first that loads."""
    skipped: list[str] = []
    failed = False
    for candidate in BACKEND_NAMES:
        missing = _missing(candidate)
        if missing is not None:
            skipped.append(f"{candidate}: {missing}")
            continue
        try:
            loaded = _open_one(candidate, bundle, precision, options)
        except BackendError as err:
            logger.warning("auto: %s is installed but did not load: %s", candidate, err)
            skipped.append(f"{candidate}: failed: {err}")
            failed = True
            continue
        note = ""
        if skipped:
            note = f"auto chose {candidate} ({'; '.join(skipped)})"
            logger.log(logging.WARNING if failed else logging.INFO, "%s", note)
        if loaded.note:
            note = f"{note}; {loaded.note}" if note else loaded.note
        return replace(loaded, requested="auto", note=note)
    raise BackendError("no backend loads here (" + "; ".join(skipped) + ")")
