"""Benchmark data: error modes, the synthetic generator, and the MQ-RAVSBench reader.

The names below are imported lazily, so ``import maskaudit.data.records`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Candidate": "maskaudit.data.records",
    "iter_candidates": "maskaudit.data.reader",
    "load_scene_info": "maskaudit.data.reader",
    "make_candidate": "maskaudit.data.error_modes",
    "iou": "maskaudit.data.error_modes",
    "RANK_BANDS": "maskaudit.data.error_modes",
    "make_scene": "maskaudit.data.scene",
    "render_frame": "maskaudit.data.render",
    "render_audio": "maskaudit.data.render",
    "object_masks": "maskaudit.data.render",
    "write_benchmark": "maskaudit.data.writer",
    "benchmark_stats": "maskaudit.data.stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'maskaudit.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
