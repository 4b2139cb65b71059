"""Model-input frames: any RGB, gray or RGBA image to a square uint8 RGB frame.

Frames are stretched to a square (no letterbox): the auditor sees the whole scene, and masks are
stretched the same way (see :mod:`maskaudit.features.mask`), so frame and mask stay aligned.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from maskaudit.errors import InputError
from maskaudit.features.constants import FRAME_SIZE

logger = logging.getLogger(__name__)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as HxWx3 uint8 RGB, or raise InputError naming its shape and dtype."""
    if not isinstance(image, np.ndarray):
        raise InputError(
            f"frame must be a numpy array, got {type(image).__name__}: "
            "pass an HxWx3 uint8 RGB image"
        )
    if image.dtype != np.uint8:
        raise InputError(
            f"frame has dtype {image.dtype} (shape {image.shape}); expected uint8: "
            "convert it with np.clip(x, 0, 255).astype(np.uint8)"
        )
    if image.ndim == 2:
        rgb = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 3:
        rgb = image
    elif image.ndim == 3 and image.shape[2] == 4:
        rgb = image[:, :, :3]
    elif image.ndim == 3 and image.shape[2] == 1:
        rgb = np.repeat(image, 3, axis=2)
    else:
        raise InputError(
            f"frame has shape {image.shape}; expected HxWx3 RGB, HxW gray or HxWx4 RGBA"
        )
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise InputError(f"frame has shape {image.shape}, which is empty: pass a non-empty image")
    return rgb


def prepare_frame(image: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """Turn an image into a square model-input frame.

    The image is stretched to ``size`` x ``size`` (no letterbox, the aspect ratio is not kept)
    with ``cv2.INTER_AREA`` when both sides shrink or stay, and ``cv2.INTER_LINEAR`` when either
    side grows. Gray images are repeated into three channels; the alpha channel of an RGBA image
    is dropped (not composited).

    Args:
        image: uint8 array, HxWx3 RGB, HxW (or HxWx1) gray, or HxWx4 RGBA.
        size: side of the output frame in pixels. Defaults to ``FRAME_SIZE`` (160).

    Returns:
        A C-contiguous uint8 array of shape (size, size, 3), RGB.

    Raises:
        InputError: if ``image`` is not uint8, has another shape, or is empty.

    Example:
        >>> import numpy as np
        >>> prepare_frame(np.zeros((480, 640, 3), np.uint8)).shape
        (160, 160, 3)
    """
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    if (height, width) == (size, size):
        return np.ascontiguousarray(rgb)

    upscaling = height < size or width < size
    interpolation = cv2.INTER_LINEAR if upscaling else cv2.INTER_AREA
    resized = cv2.resize(np.ascontiguousarray(rgb), (size, size), interpolation=interpolation)
    return np.ascontiguousarray(resized)


def read_frame(path: str | Path) -> np.ndarray:
    """Read an image file as a uint8 RGB array at its own size.

    Args:
        path: image file (any format OpenCV decodes: PNG, JPEG, BMP, WebP, ...).

    Returns:
        A uint8 array of shape (H, W, 3), RGB.

    Raises:
        InputError: if the file is missing or is not a decodable image.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise InputError(f"frame file {path} cannot be read ({err}): check the path") from err
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(
            f"frame file {path} is not an image OpenCV can decode: pass a PNG or JPEG file"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
