"""What every backend provides: one runner per graph, and the record of what really runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

BACKEND_NAMES: tuple[str, ...] = ("trt", "ort-trt", "ort-cuda", "ort-cpu")
"""Concrete backends, fastest first; ``auto`` tries them in this order."""


class GraphRunner(Protocol):
    """Runs one graph: named numpy inputs in, named numpy outputs out."""

    graph: str
    """The graph's name (``frame_encoder``, ...)."""

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph on ``feeds`` (every input by name) and return every output by name."""
        ...


@dataclass
class LoadedBackend:
    """The four graph runners of a bundle on one backend.

    Attributes:
        name: The backend that actually runs (``ort-cpu``, ``ort-cuda``, ``ort-trt``, ``trt``).
        precision: The precision of the frame encoder, audio encoder and head.
        runners: One runner per graph name.
        precisions: The precision each graph actually runs in (the text encoder may differ).
        requested: The backend that was asked for (``auto`` or a concrete name).
        note: Why ``name`` is not the one asked for, or another caveat; "" if none.
        providers: The onnxruntime providers each graph's session really got (empty for
            ``trt``).
    """

    name: str
    precision: str
    runners: dict[str, GraphRunner]
    precisions: dict[str, str] = field(default_factory=dict)
    requested: str = ""
    note: str = ""
    providers: dict[str, list[str]] = field(default_factory=dict)
