"""Ending a stream cleanly on SIGINT (Ctrl-C) or SIGTERM (``kill``, a service manager).

The first signal asks the run to stop (:meth:`~maskaudit.runtime.pipeline.StreamRun.stop`): no
new frame is read, the frames already read are audited and written, the sinks are flushed and
closed and the summary is complete. A second signal while the run is stopping interrupts at
once (``KeyboardInterrupt``), for a stop that takes too long. The process then exits with
``128 + signal number`` (:data:`EXIT_CODES`), the shell's convention.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop a stream."""

EXIT_CODES: dict[str, int] = {sig.name: 128 + int(sig) for sig in SIGNALS}
"""Exit code of a stream stopped by each signal: 130 for SIGINT, 143 for SIGTERM."""


class StopOnSignals:
    """Context manager: while it is active, SIGINT and SIGTERM stop ``run`` cleanly.

    The previous handlers come back on exit. Outside the main thread (where Python cannot
    install signal handlers) it does nothing.

    Args:
        run: What to stop: an object with ``stop(reason)`` (a ``StreamRun``).

    Attributes:
        received: The name of the first signal received (``"SIGINT"``), or None.

    Example:
        >>> with StopOnSignals(run) as stopper:  # doctest: +SKIP
        ...     summary = run.run(sinks)
        >>> stopper.exit_code  # doctest: +SKIP
        130
    """

    def __init__(self, run: Any) -> None:
        self.run = run
        self.received: str | None = None
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def exit_code(self) -> int:
        """``128 + signal number`` of the signal received, or 0 when none was."""
        return EXIT_CODES[self.received] if self.received else 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """Stop the run on the first signal; interrupt at once on the next."""
        name = signal.Signals(signum).name
        if self.received is not None:
            raise KeyboardInterrupt(f"second signal ({name}) while stopping")
        self.received = name
        self.run.stop(name)

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        if self.received:
            logger.info("stream stopped by %s", self.received)
