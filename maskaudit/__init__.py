"""maskaudit: real-time, reference-free audit of audio-visual segmentation masks."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Auditor", "__version__"]


def __getattr__(name: str) -> Any:
    """Import ``maskaudit.Auditor`` on first use, so ``import maskaudit`` stays light."""
    if name == "Auditor":
        from maskaudit.api import Auditor

        return Auditor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
