"""Mask sources: the candidate masks of each frame, by frame index or time.

Frame indices are 0-based, in the order the frame source yields frames. Supported sources:

- **PNG folder** (:class:`PngMaskFolder`). File names (without ``.png``) give the frame and the
  candidate: ``000012`` or ``12`` (frame 12, candidate ``m0``), ``frame_12`` or
  ``frame_12_m1`` (candidate ``m1``), ``000012_m1`` or ``12_person`` (``<frame>_<mask_id>``),
  ``t_0.480`` or ``t_0.480_m1`` (the frame nearest to t = 0.48 s, within half a frame). One
  level of subfolders is read as one folder per candidate: ``m1/000012.png`` is candidate
  ``m1`` of frame 12.
- **Mask video** (:class:`MaskVideo`): frame i of the mask video is candidate ``m0`` of frame
  i; gray levels above 127 are foreground (video compression blurs exact values).
- **NPZ** (:class:`NpzMasks`): arrays named like the PNG files (``12``, ``000012``,
  ``frame_12_m1``, ``12_m1``), each [H, W] (one candidate) or [K, H, W] (candidates ``m0`` ...);
  or a single array [F, H, W] or [F, K, H, W] holding every frame.
- **RLE JSON lines** (:class:`RleJsonl`): one candidate per line,
  ``{"frame": 12, "mask_id": "m0", "size": [h, w], "counts": [c0, c1, ...]}``. ``counts`` is
  COCO's uncompressed run-length encoding: run lengths alternating background and foreground,
  starting with background (a leading 0 when the first pixel is foreground), over the pixels
  in column-major (Fortran) order; they sum to ``h * w``. ``mask_id`` defaults to ``m0``.
- **Callback** (:class:`CallbackMasks`): ``fn(frame, index, t) -> {mask_id: mask}`` with the
  RGB frame, e.g. a segmenter in the loop.

``masks_for`` returns ``{mask_id: mask}``, where a mask is an array, a path to read, or an
exception for a candidate that cannot be read (it becomes an error verdict).
"""

from __future__ import annotations

import json
import logging
import re
from bisect import bisect_left
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from maskaudit.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
"""File suffixes read as mask videos."""

_BY_TIME = re.compile(r"^t_(?P<t>\d+(?:\.\d+)?)(?:_(?P<id>.+))?$")
_BY_FRAME = re.compile(r"^(?:frame_)?(?P<frame>\d+)(?:_(?P<id>.+))?$")


class MaskSource(Protocol):
    """What the pipeline reads candidate masks from."""

    name: str
    """How messages name the source."""

    def masks_for(self, index: int, t: float, image: np.ndarray | None = None) -> dict[str, Any]:
        """Return ``{mask_id: mask}`` of frame ``index`` at time ``t`` (may be empty)."""
        ...


def parse_mask_name(stem: str) -> tuple[str, float | int, str | None] | None:
    """Parse a mask file or array name into ``("frame", index, id)`` or ``("t", seconds, id)``.

    Args:
        stem: The name without suffix.

    Returns:
        The kind, the frame index or time, and the candidate id (None where the name has
        none); None when the name follows no known pattern.

    Example:
        >>> parse_mask_name("frame_12_m1")
        ('frame', 12, 'm1')
        >>> parse_mask_name("t_0.480")
        ('t', 0.48, None)
    """
    match = _BY_TIME.match(stem)
    if match:
        return "t", float(match["t"]), match["id"]
    match = _BY_FRAME.match(stem)
    if match:
        return "frame", int(match["frame"]), match["id"]
    return None


class PngMaskFolder:
    """Masks stored as PNG files, matched to frames by index or time in their names.

    Args:
        folder: The folder (see the module docstring for the names).
        time_tolerance: How far (seconds) a ``t_<seconds>`` mask may be from its frame.
            Defaults to None: half a frame at the source's frame rate (set by the pipeline),
            else 0.02 s.

    Raises:
        ConfigError: If the folder does not exist or holds no mask named as above.
    """

    def __init__(self, folder: str | Path, time_tolerance: float | None = None) -> None:
        self.folder = Path(folder)
        self.name = self.folder.name
        self.time_tolerance = time_tolerance
        if not self.folder.is_dir():
            raise ConfigError(f"mask folder {self.folder} does not exist: check --masks")
        self.by_frame: dict[int, dict[str, Path]] = {}
        self._times: list[tuple[float, str, Path]] = []
        skipped = 0
        for path in sorted(self.folder.glob("*.png")) + sorted(self.folder.glob("*/*.png")):
            folder_id = path.parent.name if path.parent != self.folder else None
            parsed = parse_mask_name(path.stem)
            if parsed is None:
                skipped += 1
                continue
            kind, key, name_id = parsed
            mask_id = folder_id or name_id or "m0"
            if kind == "t":
                self._times.append((float(key), mask_id, path))
            else:
                previous = self.by_frame.setdefault(int(key), {}).get(mask_id)
                if previous is not None:
                    logger.warning(
                        "%s and %s are both %s of frame %d; using the second",
                        previous.name,
                        path.name,
                        mask_id,
                        key,
                    )
                self.by_frame[int(key)][mask_id] = path
        self._times.sort(key=lambda item: item[0])
        self._time_keys = [item[0] for item in self._times]
        if skipped:
            logger.warning(
                "%s: %d PNG files named neither by frame nor by time were skipped",
                self.folder,
                skipped,
            )
        if not self.by_frame and not self._times:
            raise ConfigError(
                f"mask folder {self.folder} has no PNG named by frame (000012.png, "
                "frame_12_m1.png) or time (t_0.480.png): check --masks"
            )

    def masks_for(self, index: int, t: float, image: np.ndarray | None = None) -> dict[str, Any]:
        """Return the mask paths of frame ``index`` (by name) and of time ``t`` (by time)."""
        found: dict[str, Any] = dict(self.by_frame.get(index, {}))
        if self._times:
            tol = self.time_tolerance if self.time_tolerance is not None else 0.02
            i = bisect_left(self._time_keys, t - tol)
            while i < len(self._times) and self._times[i][0] < t + tol:
                found.setdefault(self._times[i][1], self._times[i][2])
                i += 1
        return found


class MaskVideo:
    """One candidate (``m0``) per frame from a mask video, read in step with the frames.

    Args:
        path: The mask video.
        mask_id: The candidate's id. Defaults to ``"m0"``.

    Raises:
        ConfigError: If the file is missing or OpenCV cannot open it.
    """

    def __init__(self, path: str | Path, mask_id: str = "m0") -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.mask_id = mask_id
        if not self.path.is_file():
            raise ConfigError(f"mask video {self.path} does not exist: check --masks")
        self.capture = cv2.VideoCapture(str(self.path))
        if not self.capture.isOpened():
            raise ConfigError(f"mask video {self.path} cannot be opened: convert it to mp4")
        self._next = 0

    def masks_for(self, index: int, t: float, image: np.ndarray | None = None) -> dict[str, Any]:
        """Read mask-video frame ``index`` (skipping forward as needed)."""
        if index < self._next:
            return {
                self.mask_id: InputError(
                    f"mask video {self.name} cannot go back to frame {index}: frames must come "
                    "in order"
                )
            }
        while self._next < index:
            if not self.capture.grab():
                break
            self._next += 1
        ok, frame = self.capture.read() if self._next == index else (False, None)
        self._next = index + 1
        if not ok:
            return {
                self.mask_id: InputError(
                    f"mask video {self.name} has no frame {index}: it is shorter than the video"
                )
            }
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        return {self.mask_id: gray > 127}

    def close(self) -> None:
        """Release the video."""
        self.capture.release()


def _split_candidates(array: np.ndarray, mask_id: str | None) -> dict[str, Any]:
    """Name the masks of one [H, W] or [K, H, W] array."""
    if array.ndim == 2:
        return {mask_id or "m0": array}
    if array.ndim == 3:
        prefix = f"{mask_id}_" if mask_id else ""
        return {f"{prefix}m{k}": array[k] for k in range(array.shape[0])}
    return {
        mask_id or "m0": InputError(
            f"mask array has shape {array.shape}; expected [H, W] or [K, H, W]"
        )
    }


class NpzMasks:
    """Masks stored in an NPZ file (see the module docstring for the layouts).

    Args:
        path: The ``.npz`` file.

    Raises:
        ConfigError: If the file is missing, unreadable, or its array names follow no layout.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise ConfigError(f"mask file {self.path} does not exist: check --masks")
        try:
            self.npz = np.load(self.path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ConfigError(f"mask file {self.path} is not a readable NPZ ({err})") from err
        self.stacked: np.ndarray | None = None
        self.by_frame: dict[int, dict[str, str]] = {}
        names = list(self.npz.files)
        for key in names:
            parsed = parse_mask_name(key)
            if parsed is not None and parsed[0] == "frame":
                self.by_frame.setdefault(int(parsed[1]), {})[parsed[2] or ""] = key
        if not self.by_frame:
            if len(names) != 1:
                raise ConfigError(
                    f"mask file {self.path} has arrays {names[:5]}...: name them by frame "
                    "(12, frame_12_m1) or store one [F, H, W] or [F, K, H, W] array"
                )
            self.stacked = self.npz[names[0]]
            if self.stacked.ndim not in (3, 4):
                raise ConfigError(
                    f"mask file {self.path}: array {names[0]} has shape {self.stacked.shape}; "
                    "expected [F, H, W] or [F, K, H, W]"
                )

    def masks_for(self, index: int, t: float, image: np.ndarray | None = None) -> dict[str, Any]:
        """Return the masks of frame ``index``."""
        if self.stacked is not None:
            if index >= self.stacked.shape[0]:
                return {}
            return _split_candidates(self.stacked[index], None)
        found: dict[str, Any] = {}
        for mask_id, key in self.by_frame.get(index, {}).items():
            found.update(_split_candidates(self.npz[key], mask_id or None))
        return found


MAX_RLE_PIXELS = 1 << 26
"""Largest mask an RLE line may describe (67 M pixels, e.g. 8192 x 8192): a larger ``size``
is an error rather than an allocation that could exhaust the memory."""


def _rle_size(size: Any) -> tuple[int, int]:
    """Check an RLE ``size`` and return it as ``(h, w)``; raise InputError if it is not one."""
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in size)
        or min(size) < 0
    ):
        raise InputError(f"RLE size {str(size)[:40]} is not [h, w] with two integers >= 0")
    h, w = int(size[0]), int(size[1])
    if h * w > MAX_RLE_PIXELS:
        raise InputError(
            f"RLE size {h}x{w} is larger than {MAX_RLE_PIXELS} pixels: masks must be at the "
            "frame's size"
        )
    return h, w


def _rle_runs(counts: Any) -> np.ndarray:
    """Check RLE ``counts`` and return them as int64 runs; raise InputError if they are not."""
    if not isinstance(counts, list | tuple | np.ndarray) or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and 0 <= v <= MAX_RLE_PIXELS
        for v in counts
    ):
        raise InputError(
            f"RLE counts {str(counts)[:40]} are not a list of run lengths (integers >= 0); "
            "compressed COCO strings are not read: write uncompressed counts"
        )
    return np.asarray(counts, dtype=np.int64).reshape(-1)


def rle_decode(size: list[int], counts: list[int]) -> np.ndarray:
    """Decode COCO's uncompressed run-length encoding to a bool [h, w] mask.

    Args:
        size: ``[h, w]``, two integers >= 0 with ``h * w <= MAX_RLE_PIXELS``.
        counts: Run lengths (integers >= 0), alternating background and foreground, starting
            with background, over the pixels in column-major order.

    Returns:
        The mask.

    Raises:
        InputError: If ``size`` or ``counts`` is malformed, the mask is larger than
            ``MAX_RLE_PIXELS``, or the runs do not cover exactly ``h * w`` pixels.

    Example:
        >>> rle_decode([2, 2], [1, 2, 1]).astype(int).tolist()
        [[0, 1], [1, 0]]
    """
    h, w = _rle_size(size)
    runs = _rle_runs(counts)
    if int(runs.sum()) != h * w:
        raise InputError(
            f"RLE counts sum to {int(runs.sum())} but size {h}x{w} has {h * w} pixels: write "
            "COCO uncompressed counts in column-major order"
        )
    values = np.arange(runs.size) % 2 == 1
    return np.repeat(values, runs).reshape(w, h).T


class RleJsonl:
    """Masks stored as RLE JSON lines (see the module docstring for the format).

    The file is indexed once (byte offsets per frame) and lines are decoded when their frame
    comes, so memory stays small however long the file is.

    Args:
        path: The ``.jsonl`` file.

    Raises:
        ConfigError: If the file is missing or a line is not a JSON object with ``frame``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise ConfigError(f"mask file {self.path} does not exist: check --masks")
        self.offsets: dict[int, list[int]] = {}
        with open(self.path, "rb") as handle:
            offset = 0
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        frame = int(json.loads(line)["frame"])
                    except (ValueError, KeyError, TypeError, OverflowError) as err:
                        raise ConfigError(
                            f"{self.path} line {number} is not a JSON object with an integer "
                            f'"frame" ({err}): see the RLE JSONL format in the docs'
                        ) from err
                    self.offsets.setdefault(frame, []).append(offset)
                offset += len(line)

    def masks_for(self, index: int, t: float, image: np.ndarray | None = None) -> dict[str, Any]:
        """Decode the masks of frame ``index``."""
        found: dict[str, Any] = {}
        if index not in self.offsets:
            return found
        with open(self.path, "rb") as handle:
            for k, offset in enumerate(self.offsets[index]):
                handle.seek(offset)
                record = json.loads(handle.readline())
                mask_id = str(record.get("mask_id", "m0" if k == 0 else f"m{k}"))
                try:
                    found[mask_id] = rle_decode(record["size"], record["counts"])
                except KeyError as err:
                    found[mask_id] = InputError(
                        f"{self.name} frame {index} {mask_id}: the line has no {err}: write "
                        '"size": [h, w] and "counts": [...]'
                    )
                except InputError as err:
                    found[mask_id] = InputError(f"{self.name} frame {index} {mask_id}: {err}")
        return found


class CallbackMasks:
    """Masks from a Python callback ``fn(frame, index, t) -> {mask_id: mask}``.

    Args:
        fn: The callback; it gets the RGB frame (None for an undecodable frame), its index and
            time in seconds.
        name: How messages name it. Defaults to ``"callback"``.
    """

    def __init__(self, fn: Callable[[Any, int, float], Mapping[str, Any]], name: str = "callback"):
        self.fn = fn
        self.name = name

    def masks_for(self, index: int, t: float, image: np.ndarray | None = None) -> dict[str, Any]:
        """Call the callback; refuse an answer that is not a mapping."""
        result = self.fn(image, index, t)
        if not isinstance(result, Mapping):
            raise InputError(
                f"mask callback returned a {type(result).__name__} for frame {index}: return "
                "a dict {mask_id: mask}"
            )
        return {str(k): v for k, v in result.items()}


def open_masks(masks: Any) -> MaskSource:
    """Open what ``Auditor.stream`` accepts as masks.

    Args:
        masks: A mask source (returned as is), a callable (a callback), or a path: a folder
            (PNG files), a ``.npz``, a ``.jsonl`` / ``.json`` (RLE lines) or a video file.

    Returns:
        The mask source.

    Raises:
        ConfigError: If the path is missing or of an unknown kind.
    """
    if hasattr(masks, "masks_for"):
        return masks
    if callable(masks):
        return CallbackMasks(masks)
    path = Path(masks)
    if path.is_dir():
        return PngMaskFolder(path)
    if not path.exists():
        raise ConfigError(f"masks {path} do not exist: check --masks")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return NpzMasks(path)
    if suffix in (".jsonl", ".json", ".ndjson"):
        return RleJsonl(path)
    if suffix in VIDEO_SUFFIXES:
        return MaskVideo(path)
    raise ConfigError(
        f"masks {path}: unknown kind {suffix or '(no suffix)'}; pass a PNG folder, a mask video, "
        "an .npz or an RLE .jsonl file"
    )
