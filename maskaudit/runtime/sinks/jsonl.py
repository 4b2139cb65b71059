"""JSON-lines sink: one verdict record per line, flushed per line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from maskaudit.errors import ConfigError
from maskaudit.runtime.sinks.base import FrameResult


class JsonlSink:
    """Writes verdict records as JSON lines to a file or a text stream.

    Each line is flushed as soon as it is written, so a reader (``tail -f``, a robot's
    process) sees every verdict at once.

    Args:
        target: A file path (created or overwritten), an open text stream, or ``"-"`` / None
            for standard output. Defaults to None.

    Raises:
        ConfigError: If the file cannot be created.
    """

    def __init__(self, target: str | Path | TextIO | None = None) -> None:
        self._owned = False
        if target is None or target == "-":
            self.stream: TextIO = sys.stdout
        elif isinstance(target, str | Path):
            path = Path(target)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            except OSError as err:
                raise ConfigError(f"cannot write verdicts to {path} ({err}): check --out") from err
            self._owned = True
        else:
            self.stream = target

    def write(self, result: FrameResult) -> None:
        """Write the frame's verdicts, one line each, and flush."""
        for verdict in result.verdicts:
            self.stream.write(verdict.to_json() + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Close the file (a stream that was passed in stays open)."""
        if self._owned:
            self.stream.close()
        else:
            self.stream.flush()
