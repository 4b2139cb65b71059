"""Candidate masks: reading, normalisation to soft float masks, and resizing to the model size.

Every mask becomes a float32 HxW array in [0, 1] (1 = foreground). The rules, by input kind:

- **bool**: True is 1.
- **uint8**: if every value is 0 or 1 the mask is taken as 0/1; otherwise it is value / 255
  (0/255 binary masks and 0..255 soft masks).
- **uint16**: as uint8, with 65535 as full scale (16-bit PNGs).
- **other integer dtypes** (int8 ... int64, uint32, uint64): label maps; a value > 0 is
  foreground.
- **float**: a soft mask in [0, 1]; NaN becomes 0 and values are clipped to [0, 1] (values
  above 1 are logged, since a 0..255 float mask clips to nearly all foreground).
- **HxWx1**: as HxW.
- **HxWx3** (RGB or BGR, the order does not matter): the channels are scaled together as above.
  A gray mask saved as colour (the three channels equal at every pixel) keeps its soft values
  (the channel mean). Otherwise the mask is colour-coded and a pixel with any nonzero channel is
  foreground: a soft coloured mask is therefore binarised, and JPEG noise in a coloured mask
  counts as foreground (save coloured masks as PNG).
- **HxWx4** (RGBA): colour and alpha are scaled separately. If the alpha varies and the colour
  is one flat colour everywhere (all black, all white, ...), alpha is the mask; otherwise the
  colour channels are, by the HxWx3 rule.
- **palette PNG** (read with :func:`read_mask`): a palette index > 0 is foreground, whatever
  colour the palette gives it; ``label`` selects one index instead.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from maskaudit.errors import InputError
from maskaudit.features.constants import FRAME_SIZE

logger = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01
"""Relative aspect-ratio difference up to which a mask of another size than its frame is
accepted and stretched (1%)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_PALETTE = 3
_IHDR_BYTES = 13


def _scale(values: np.ndarray, name: str) -> np.ndarray:
    """Scale one array of any supported dtype to float32 in [0, 1] by the module's rules."""
    dtype = values.dtype
    if dtype == np.bool_:
        return values.astype(np.float32)
    if dtype in (np.uint8, np.uint16):
        full = 255.0 if dtype == np.uint8 else 65535.0
        if values.size and values.max() <= 1:
            return values.astype(np.float32)
        return values.astype(np.float32) / np.float32(full)
    if np.issubdtype(dtype, np.integer):
        return (values > 0).astype(np.float32)
    if np.issubdtype(dtype, np.floating):
        out = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        if out.size and out.max() > 1.0:
            logger.warning(
                "%s: float values up to %g clipped to 1; scale 0..255 masks by 1/255 first",
                name,
                float(out.max()),
            )
        return np.clip(out, 0.0, 1.0)
    raise InputError(
        f"{name} has dtype {dtype}; expected bool, an integer type or float: "
        "pass a binary, 0..255 or soft [0, 1] mask"
    )


def _from_colour(colour: np.ndarray) -> np.ndarray:
    """Reduce scaled HxWx3 channels to HxW: the mean if gray, else any nonzero channel."""
    gray = np.all(colour == colour[:, :, :1])
    if gray:
        return colour.mean(axis=2, dtype=np.float32)
    return (colour.max(axis=2) > 0).astype(np.float32)


def _is_flat(values: np.ndarray) -> bool:
    """Whether every pixel of an HxW or HxWxC array has the same value(s)."""
    flat = values.reshape(-1, values.shape[2]) if values.ndim == 3 else values.reshape(-1, 1)
    return bool(np.all(flat == flat[0]))


def normalise_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Turn a mask of any supported kind into a soft float32 HxW mask in [0, 1].

    See the module docstring for the rule applied to each dtype and channel layout.

    Args:
        mask: HxW, HxWx1, HxWx3 or HxWx4 array of bool, integer or float values.
        name: how error messages and logs name the mask (a file name, ``mask 3``).
            Defaults to ``"mask"``.

    Returns:
        A float32 array of shape (H, W), values in [0, 1].

    Raises:
        InputError: for another shape, an empty mask, or an unsupported dtype.

    Example:
        >>> import numpy as np
        >>> normalise_mask(np.array([[0, 255]], np.uint8)).tolist()
        [[0.0, 1.0]]
    """
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"{name} has shape {array.shape}; expected HxW, HxWx1, HxWx3 or HxWx4")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"{name} has shape {array.shape}, which is empty: pass a non-empty mask")

    if array.ndim == 2:
        return np.ascontiguousarray(_scale(array, name))
    if array.shape[2] == 3:
        return np.ascontiguousarray(_from_colour(_scale(array, name)))

    colour, alpha = array[:, :, :3], array[:, :, 3]
    if not _is_flat(alpha) and _is_flat(colour):
        return np.ascontiguousarray(_scale(alpha, name))
    return np.ascontiguousarray(_from_colour(_scale(colour, name)))


def resize_mask(mask: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """Normalise a mask and stretch it to ``size`` x ``size`` with ``cv2.INTER_AREA``.

    The result stays soft (area interpolation keeps each output pixel's foreground coverage)
    and is not binarised: the auditor pools soft coverage.

    Args:
        mask: any mask :func:`normalise_mask` accepts.
        size: output side in pixels. Defaults to ``FRAME_SIZE`` (160).

    Returns:
        A float32 array of shape (size, size), values in [0, 1].

    Raises:
        InputError: as :func:`normalise_mask`.
    """
    return _stretch(normalise_mask(mask), size)


def _stretch(soft: np.ndarray, size: int) -> np.ndarray:
    """Stretch a normalised soft mask to ``size`` x ``size`` with ``cv2.INTER_AREA``."""
    if soft.shape == (size, size):
        return soft
    resized = cv2.resize(soft, (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(resized, 0.0, 1.0, out=resized)


def _as_mask_list(masks: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Split the accepted mask containers into a list of single masks."""
    if isinstance(masks, np.ndarray):
        if masks.ndim == 2:
            return [masks]
        if masks.ndim in (3, 4):
            return list(masks)
        raise InputError(
            f"masks have shape {masks.shape}; expected HxW, KxHxW, KxHxWxC, or a list of masks"
        )
    return list(masks)


def _check_size(shape: tuple[int, int], frame_hw: tuple[int, int], resize: bool, name: str):
    """Raise InputError when a mask's size does not fit its frame's."""
    if shape == frame_hw:
        return
    mask_size = f"{shape[1]}x{shape[0]}"
    frame_size = f"{frame_hw[1]}x{frame_hw[0]}"
    if not resize:
        raise InputError(
            f"{name} is {mask_size} but the frame is {frame_size}: pass masks at the frame's "
            "size, or resize=True (--resize-masks) to stretch masks of the same aspect ratio"
        )
    mask_aspect = shape[1] / shape[0]
    frame_aspect = frame_hw[1] / frame_hw[0]
    if abs(mask_aspect - frame_aspect) > ASPECT_TOLERANCE * frame_aspect:
        raise InputError(
            f"{name} is {mask_size} but the frame is {frame_size}, another aspect ratio "
            f"({mask_aspect:.3f} vs {frame_aspect:.3f}): the mask was made for another frame; "
            "pass masks cut from this frame, or crop them to its aspect ratio"
        )


def prepare_masks(
    masks: np.ndarray | Sequence[np.ndarray],
    frame_shape: tuple[int, ...] | None = None,
    size: int = FRAME_SIZE,
    resize: bool = True,
) -> np.ndarray:
    """Prepare the K candidate masks of one frame for the auditor.

    Each mask is normalised (:func:`normalise_mask`) and stretched to ``size`` x ``size``
    (:func:`resize_mask`), the same stretch the frame gets.

    Args:
        masks: a list of masks (each HxW, HxWx1, HxWx3 or HxWx4), one HxW mask, or a stacked
            array KxHxW (or KxHxWxC). A 3-D array is always read as K stacked masks: pass a list
            for a single colour mask.
        frame_shape: the original frame's shape, (H, W) or (H, W, C). Defaults to None: masks
            of any size are accepted.
        size: output side in pixels. Defaults to ``FRAME_SIZE`` (160).
        resize: with ``frame_shape`` given, whether a mask of another size than the frame is
            accepted. Defaults to True: it is, when its aspect ratio matches the frame's within
            1% (``ASPECT_TOLERANCE``). With False, any size difference is an error.

    Returns:
        A float32 array of shape (K, size, size), values in [0, 1]; K may be 0.

    Raises:
        InputError: if a mask is malformed, or does not fit ``frame_shape`` as described.
    """
    items = _as_mask_list(masks)
    frame_hw = None if frame_shape is None else (int(frame_shape[0]), int(frame_shape[1]))

    out = np.empty((len(items), size, size), dtype=np.float32)
    for index, mask in enumerate(items):
        name = f"mask {index}"
        soft = normalise_mask(mask, name=name)
        if frame_hw is not None:
            _check_size(soft.shape, frame_hw, resize, name)
        out[index] = _stretch(soft, size)
    return out


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split PNG bytes into (type, payload) chunks; an empty list if not a well-formed PNG."""
    if not data.startswith(_PNG_SIGNATURE):
        return []
    chunks, offset = [], len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        if len(payload) != length:
            return []
        chunks.append((kind, payload))
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _decode(data: bytes) -> np.ndarray | None:
    """Decode image bytes as stored (``cv2.IMREAD_UNCHANGED``); None if OpenCV cannot.

    OpenCV returns None for most undecodable data but raises ``cv2.error`` for some (an image
    whose header claims more pixels than OpenCV's limit, a damaged stream): both mean the same.
    """
    if not data:
        return None
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None


def _palette_indices(data: bytes) -> np.ndarray | None:
    """Decode a palette PNG to its index map (uint8 HxW); None if ``data`` is not one.

    OpenCV expands palettes to colours, so the palette is first rewritten to gray levels
    equal to the indices; the decoded gray level is then the index.
    """
    chunks = _png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != _IHDR_BYTES:
        return None
    if chunks[0][1][9] != _PNG_PALETTE:
        return None

    rebuilt = [_PNG_SIGNATURE]
    for kind, payload in chunks:
        if kind == b"PLTE":
            count = len(payload) // 3
            payload = bytes(np.repeat(np.arange(count, dtype=np.uint8), 3))
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        rebuilt.append(struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc))
    decoded = _decode(b"".join(rebuilt))
    if decoded is None:
        return None
    return decoded if decoded.ndim == 2 else decoded[:, :, 0]


def read_mask(path: str | Path, label: int | None = None) -> np.ndarray:
    """Read a mask image file as a soft float32 HxW mask in [0, 1].

    Reads 8- and 16-bit gray, RGB and RGBA images (``cv2.IMREAD_UNCHANGED``) and normalises
    them with :func:`normalise_mask`. Palette PNGs are read as their palette indices: index 0
    is background and any index > 0 foreground, whatever colours the palette holds.

    Args:
        path: image file (PNG for lossless masks; JPEG masks come out soft at the edges).
        label: for palette PNGs, the one index that is foreground (multi-object masks).
            Defaults to None: every index > 0.

    Returns:
        A float32 array of shape (H, W), values in [0, 1].

    Raises:
        InputError: if the file is missing or not an image, or ``label`` is given for a file
            that is not a palette PNG.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"mask file {path} cannot be read ({err}): check the path") from err

    indices = _palette_indices(data)
    if indices is not None:
        foreground = indices > 0 if label is None else indices == label
        return foreground.astype(np.float32)
    if label is not None:
        raise InputError(
            f"mask file {path} is not a palette PNG, so label={label} cannot select an object: "
            "drop the label or pass a palette (indexed) PNG"
        )

    image = _decode(data)
    if image is None:
        raise InputError(f"mask file {path} is not an image OpenCV can decode: pass a PNG mask")
    return normalise_mask(image, name=f"mask file {path.name}")
