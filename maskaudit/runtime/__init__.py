"""The streaming runtime: bundles, backends, sources, the pipeline, policy and sinks.

Everything here runs with numpy, onnxruntime, OpenCV and the standard library (plus TensorRT
and cuda-python, imported only by the ``trt`` backend); nothing imports torch.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Auditor": "maskaudit.runtime.auditor",
    "Bundle": "maskaudit.runtime.bundle",
    "load_bundle": "maskaudit.runtime.bundle",
    "Verdict": "maskaudit.runtime.verdict",
    "StreamRun": "maskaudit.runtime.pipeline",
    "StreamSummary": "maskaudit.runtime.sinks.summary",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the public names on first use, so ``import maskaudit.runtime`` stays light."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
