"""Where a measurement was made: the machine and the versions, for benchmark records."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from maskaudit import __version__

SIMD_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "asimddp")
"""CPU features that decide how fast INT8 and fp32 kernels run."""


def cpu_model() -> str:
    """Return the CPU's model name (from /proc/cpuinfo where it exists)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """Return which of ``SIMD_FLAGS`` the CPU has."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    return sorted(f for f in SIMD_FLAGS if f in flags)


def machine() -> dict:
    """Return the CPU model, its SIMD flags, the core count, the platform and the load."""
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cores": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def versions() -> dict:
    """Return the versions of Python, maskaudit, numpy, onnxruntime and OpenCV."""
    import cv2
    import onnxruntime

    return {
        "python": platform.python_version(),
        "maskaudit": __version__,
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
    }
