"""Callback sink: hand each verdict (or each frame's result) to a Python function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maskaudit.runtime.sinks.base import FrameResult


class CallbackSink:
    """Calls ``fn`` with every verdict, or with every frame's :class:`FrameResult`.

    Args:
        fn: The function. Its return value is ignored.
        per_frame: Call it once per frame with the ``FrameResult`` instead of once per verdict.
            Defaults to False.
    """

    def __init__(self, fn: Callable[[Any], Any], per_frame: bool = False) -> None:
        self.fn = fn
        self.per_frame = per_frame

    def write(self, result: FrameResult) -> None:
        """Call the function."""
        if self.per_frame:
            self.fn(result)
        else:
            for verdict in result.verdicts:
                self.fn(verdict)

    def close(self) -> None:
        """Nothing to close."""
