"""Temporal context: the ring buffer of (frame context map, audio embedding) per second.

Entry j pairs the ``context`` map of the frame at second j (the first frame at or after t = j)
with the audio embedding of the window [j, j + 1), the way the reference pairs audio second k
with frame k. The head takes the last T entries, oldest first; when fewer than T are filled,
the filled entries come first and the rest is zero padding with ``context_valid`` 0.
"""

from __future__ import annotations

from collections import deque

import numpy as np


def pack_context(
    maps: list[np.ndarray],
    audio: list[np.ndarray],
    seconds: int,
    map_shape: tuple[int, ...],
    audio_dim: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack context entries into the head's ``context_*`` inputs, padded to ``seconds``.

    Args:
        maps: Context maps of the entries, oldest first, each of ``map_shape``.
        audio: Audio embeddings of the entries, oldest first, each of length ``audio_dim``.
        seconds: T, the number of entries the head takes; only the last T entries are kept.
        map_shape: Shape of one context map (``Cc, 40, 40``).
        audio_dim: Length of one audio embedding.

    Returns:
        ``context_maps`` float32 [1, T, *map_shape], ``context_audio`` float32
        [1, T, audio_dim] and ``context_valid`` float32 [1, T].

    Raises:
        ValueError: If ``maps`` and ``audio`` differ in length.
    """
    if len(maps) != len(audio):
        raise ValueError(f"{len(maps)} context maps but {len(audio)} audio embeddings")
    maps, audio = maps[-seconds:], audio[-seconds:]
    context_maps = np.zeros((1, seconds, *map_shape), dtype=np.float32)
    context_audio = np.zeros((1, seconds, audio_dim), dtype=np.float32)
    valid = np.zeros((1, seconds), dtype=np.float32)
    for i, (m, a) in enumerate(zip(maps, audio, strict=True)):
        context_maps[0, i] = m
        context_audio[0, i] = a
        valid[0, i] = 1.0
    return context_maps, context_audio, valid


class ContextBuffer:
    """The last ``seconds`` context entries of a stream, one per whole second.

    Args:
        seconds: T, how many entries are kept.

    Example:
        >>> import numpy as np
        >>> buf = ContextBuffer(2)
        >>> for j in range(3):
        ...     buf.add(j, np.full((1, 2, 2), j, np.float32), np.zeros(4, np.float32))
        >>> buf.seconds_held()
        [1, 2]
    """

    def __init__(self, seconds: int) -> None:
        if seconds < 1:
            raise ValueError(f"context seconds must be at least 1, got {seconds}")
        self.seconds = int(seconds)
        self._entries: deque[tuple[int, np.ndarray, np.ndarray]] = deque(maxlen=self.seconds)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def last_second(self) -> int | None:
        """The second of the newest entry, or None when empty."""
        return self._entries[-1][0] if self._entries else None

    def seconds_held(self) -> list[int]:
        """Return the seconds of the entries held, oldest first."""
        return [entry[0] for entry in self._entries]

    def add(self, second: int, context_map: np.ndarray, audio_embedding: np.ndarray) -> None:
        """Add the entry of ``second``; entries must come in increasing second order.

        Args:
            second: The whole second j of the entry.
            context_map: The ``context`` output of the frame at second j.
            audio_embedding: The audio embedding of window [j, j + 1).

        Raises:
            ValueError: If ``second`` is not newer than the newest entry.
        """
        if self._entries and second <= self._entries[-1][0]:
            raise ValueError(f"context entry {second} is not newer than {self._entries[-1][0]}")
        self._entries.append((int(second), context_map, audio_embedding))

    def pack(
        self, map_shape: tuple[int, ...], audio_dim: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the head's ``context_*`` inputs for the entries held (:func:`pack_context`)."""
        maps = [entry[1] for entry in self._entries]
        audio = [entry[2] for entry in self._entries]
        return pack_context(maps, audio, self.seconds, map_shape, audio_dim)
