"""Pictures, masks and audio of a synthetic scene, at any size.

Scenes are described in normalised coordinates: an object's centre is a fraction of the frame's
width and height, its radius a fraction of the frame's shorter side. So one scene renders at
224x224 for the benchmark and at 640x360 for a demo video; masks are always computed at the size
asked for. Frame ``k`` is the picture at ``t = k`` seconds; at a fractional ``t`` the objects'
visual envelopes are interpolated.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from maskaudit.data import sound

if TYPE_CHECKING:
    from maskaudit.data.scene import Background, Scene, SceneObject

_SHIFT = 4
_SUB = 1 << _SHIFT


def _regular(n: int, radius: float = 1.0, start: float = -np.pi / 2) -> np.ndarray:
    """Vertices of a regular n-gon."""
    a = start + np.arange(n) * 2 * np.pi / n
    return np.stack([np.cos(a), np.sin(a)], axis=1) * radius


def _star(points: int = 5, outer: float = 1.1, inner: float = 0.5) -> np.ndarray:
    """Vertices of a star."""
    a = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([np.cos(a) * r, np.sin(a) * r], axis=1)


def _cross(arm: float = 0.36, length: float = 1.0) -> np.ndarray:
    """Vertices of a plus sign."""
    a, b = arm, length
    return np.array(
        [
            (-a, -b),
            (a, -b),
            (a, -a),
            (b, -a),
            (b, a),
            (a, a),
            (a, b),
            (-a, b),
            (-a, a),
            (-b, a),
            (-b, -a),
            (-a, -a),
        ]
    )


def shape_polygons(shape: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Unit outline of a shape, and an optional outline cut out of it (crescent).

    Args:
        shape: One of ``maskaudit.data.vocabulary.SHAPES``.

    Returns:
        (filled polygon, subtracted polygon or None), as (N, 2) arrays of x, y.
    """
    circle = _regular(48)
    table = {
        "disc": circle,
        "ellipse": circle * np.array([1.15, 0.7]),
        "square": _regular(4, 1.15, np.pi / 4),
        "rectangle": np.array([(-1.2, -0.6), (1.2, -0.6), (1.2, 0.6), (-1.2, 0.6)]),
        "triangle": _regular(3, 1.25),
        "diamond": np.array([(0.0, -1.2), (0.8, 0.0), (0.0, 1.2), (-0.8, 0.0)]),
        "pentagon": _regular(5, 1.05),
        "hexagon": _regular(6, 1.0),
        "star": _star(),
        "cross": _cross(),
        "crescent": circle * 1.1,
    }
    if shape not in table:
        raise ValueError(f"unknown shape {shape!r}")
    cut = circle * 0.9 + np.array([0.55, -0.1]) if shape == "crescent" else None
    return table[shape], cut


@cache
def unit_area(shape: str) -> float:
    """Area of a shape at radius 1 (in squared radius units)."""
    size = 400
    mask = _polygon_mask(shape, size / 2, size / 2, size / 4, 0.0, (size, size))
    return float(mask.sum()) / (size / 4) ** 2


def _polygon_mask(
    shape: str, cx: float, cy: float, r: float, rotation_deg: float, size: tuple[int, int]
) -> np.ndarray:
    """Rasterise a shape centred at pixel (cx, cy) with radius r pixels."""
    w, h = size
    theta = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    out = np.zeros((h, w), np.uint8)
    fill, cut = shape_polygons(shape)

    def draw(poly: np.ndarray, value: int) -> None:
        pts = (poly @ rot.T) * r + np.array([cx - 0.5, cy - 0.5])
        cv2.fillPoly(out, [np.round(pts * _SUB).astype(np.int32)], value, cv2.LINE_8, _SHIFT)

    draw(fill, 1)
    if cut is not None:
        draw(cut, 0)
    return out.astype(bool)


def shape_mask(obj: SceneObject, size: tuple[int, int]) -> np.ndarray:
    """The full (unoccluded) mask of one object.

    Args:
        obj: The object.
        size: (width, height) in pixels.

    Returns:
        Bool mask, HxW.
    """
    w, h = size
    return _polygon_mask(
        obj.shape, obj.cx * w, obj.cy * h, obj.radius * min(w, h), obj.rotation, size
    )


def object_masks(scene: Scene, size: tuple[int, int] = (224, 224)) -> list[np.ndarray]:
    """Visible masks of the scene's objects (later objects occlude earlier ones).

    Args:
        scene: The scene.
        size: (width, height) in pixels. Defaults to (224, 224).

    Returns:
        One bool HxW mask per object, in the scene's order; the masks are disjoint.
    """
    return visible_masks(scene.objects, size)


def visible_masks(objects: Sequence[SceneObject], size: tuple[int, int]) -> list[np.ndarray]:
    """Visible masks of objects listed in z-order (see ``object_masks``).

    Args:
        objects: Objects, later ones in front.
        size: (width, height) in pixels.

    Returns:
        One bool HxW mask per object.
    """
    full = [shape_mask(o, size) for o in objects]
    visible = []
    cover = np.zeros((size[1], size[0]), bool)
    for mask in reversed(full):
        visible.append(mask & ~cover)
        cover |= mask
    return visible[::-1]


def hsv(hue: float, sat: float, val: float) -> np.ndarray:
    """RGB in [0, 1] of a hue in degrees, a saturation and a value."""
    return np.array(colorsys.hsv_to_rgb((hue % 360.0) / 360.0, sat, val), dtype=np.float32)


def _noise_grid(rng: np.random.Generator, cells: int, size: tuple[int, int]) -> np.ndarray:
    """Smooth noise in about [-1, 1]: a cells x cells random grid upsampled to size."""
    grid = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(grid, size, interpolation=cv2.INTER_CUBIC)


def render_background(background: Background, size: tuple[int, int]) -> np.ndarray:
    """Paint a background (float32 RGB in [0, 1], HxWx3); the same picture at every size.

    Args:
        background: The background description.
        size: (width, height) in pixels.

    Returns:
        float32 array HxWx3.
    """
    w, h = size
    rng = np.random.default_rng(background.seed)
    palette = np.asarray(background.palette, dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = xx / w, yy / h
    unit = float(min(w, h))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.clip(0.5 + (xn - 0.5) * np.cos(angle) + (yn - 0.5) * np.sin(angle), 0, 1)[..., None]
    image = palette[0] * (1 - ramp) + palette[1] * ramp
    family = background.family

    if family in ("noise", "mixed"):
        field = sum(
            _noise_grid(rng, c, size) * a for c, a in ((3, 0.5), (7, 0.3), (17, 0.2), (41, 0.12))
        )
        field = np.clip(0.5 + 0.8 * field, 0, 1)[..., None]
        image = image * (1 - field) + palette[2] * field
    if family in ("blobs", "mixed"):
        for _ in range(int(rng.integers(4, 12))):
            cx, cy = rng.uniform(-0.1, 1.1, 2)
            sx, sy = rng.uniform(0.04, 0.25, 2)
            g = np.exp(-(((xn - cx) / sx) ** 2 + ((yn - cy) / sy) ** 2) / 2)[..., None]
            color = palette[int(rng.integers(0, len(palette)))] * rng.uniform(0.6, 1.3)
            image = image * (1 - 0.8 * g) + np.clip(color, 0, 1) * 0.8 * g
    if family in ("lines", "mixed"):
        layer = image.copy()
        for _ in range(int(rng.integers(5, 20))):
            p0 = (rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h)
            p1 = (rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h)
            thick = max(1, round(rng.uniform(0.004, 0.03) * unit))
            color = tuple(
                float(c)
                for c in palette[int(rng.integers(0, len(palette)))] * rng.uniform(0.5, 1.2)
            )
            pts = [np.round(np.array(p) * _SUB).astype(int) for p in (p0, p1)]
            cv2.line(layer, tuple(pts[0]), tuple(pts[1]), color, thick, cv2.LINE_AA, _SHIFT)
        sigma = 0.003 * unit
        image = cv2.GaussianBlur(layer, (0, 0), sigma) if sigma > 0.3 else layer
    if family == "tiles":
        period = rng.uniform(0.12, 0.3)
        turn = rng.uniform(0, np.pi)
        u = (xx * np.cos(turn) + yy * np.sin(turn)) / unit / period
        v = (-xx * np.sin(turn) + yy * np.cos(turn)) / unit / period
        check = ((np.floor(u) + np.floor(v)) % 2)[..., None].astype(np.float32)
        check = cv2.GaussianBlur(check, (0, 0), max(0.5, 0.01 * unit))[..., None]
        image = image * (1 - 0.35 * check) + palette[2] * 0.35 * check
    shade = 1.0 + 0.12 * _noise_grid(rng, 5, size)[..., None]
    return np.clip(image * shade, 0, 1).astype(np.float32)


def _object_texture(
    obj: SceneObject, size: tuple[int, int], box: tuple[int, int, int, int]
) -> np.ndarray:
    """Colour of an object over its bounding box (float32 RGB in [0, 1])."""
    w, h = size
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    r = obj.radius * min(w, h)
    theta = np.deg2rad(obj.rotation)
    dx, dy = (xx + 0.5 - obj.cx * w) / r, (yy + 0.5 - obj.cy * h) / r
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    main = hsv(obj.hue, 0.8, 0.95)
    second = hsv(obj.hue + 25.0, 0.9, 0.45)
    p = obj.texture_period
    if obj.texture == "stripes":
        weight = (np.sin(2 * np.pi * u / p + obj.texture_phase) > 0).astype(np.float32)
    elif obj.texture == "checker":
        weight = ((np.floor(u / p + obj.texture_phase) + np.floor(v / p)) % 2).astype(np.float32)
    elif obj.texture == "dots":
        fu = (u / p + obj.texture_phase) % 1.0 - 0.5
        fv = (v / p) % 1.0 - 0.5
        weight = (np.hypot(fu, fv) < 0.28).astype(np.float32)
    elif obj.texture == "gradient":
        weight = np.clip(0.5 + 0.45 * u, 0, 1)
    else:
        weight = np.zeros_like(u)
    light = 1.0 - 0.12 * np.clip(u + v, -1.5, 1.5)
    color = main * (1 - weight[..., None]) + second * weight[..., None]
    return np.clip(color * light[..., None], 0, 1).astype(np.float32)


def visual_level(obj: SceneObject, t: float) -> float:
    """The brightness factor of an object at time ``t`` (envelope interpolated between frames)."""
    env = obj.visual_envelope
    t = float(np.clip(t, 0, len(env) - 1))
    k = int(np.floor(t))
    if k >= len(env) - 1:
        return float(env[-1])
    a = t - k
    return float(env[k] * (1 - a) + env[k + 1] * a)


class FrameRenderer:
    """Renders frames of one scene at one size, painting the static layers only once.

    Args:
        scene: The scene.
        size: (width, height) in pixels. Defaults to (224, 224).
        sensor_noise: Standard deviation of per-frame pixel noise in 0..255 units. Defaults to 2.
    """

    def __init__(self, scene: Scene, size: tuple[int, int] = (224, 224), sensor_noise: float = 2.0):
        self.scene = scene
        self.size = size
        self.sensor_noise = sensor_noise
        self.background = render_background(scene.background, size)
        self.masks = object_masks(scene, size)
        self.layers = []
        for obj, mask in zip(scene.objects, self.masks, strict=True):
            ys, xs = np.nonzero(mask)
            if len(ys) == 0:
                self.layers.append(None)
                continue
            box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            texture = _object_texture(obj, size, box)
            local = mask[box[1] : box[3], box[0] : box[2]]
            self.layers.append((box, local, texture))

    def frame(self, t: float) -> np.ndarray:
        """Render the picture at time ``t`` seconds (uint8 RGB, HxWx3)."""
        image = self.background.copy()
        for obj, layer in zip(self.scene.objects, self.layers, strict=True):
            if layer is None:
                continue
            (x0, y0, x1, y1), local, texture = layer
            region = image[y0:y1, x0:x1]
            region[local] = texture[local] * visual_level(obj, t)
        image *= 255.0
        if self.sensor_noise > 0:
            rng = np.random.default_rng([self.scene.seed, int(round(t * 1000))])
            image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(
                self.sensor_noise
            )
        return np.clip(np.round(image), 0, 255).astype(np.uint8)


def render_frame(scene: Scene, t: float, size: tuple[int, int] = (224, 224)) -> np.ndarray:
    """Render one frame of a scene.

    Args:
        scene: The scene.
        t: Time in seconds; frame ``k`` is ``t = k``; fractional times interpolate.
        size: (width, height) in pixels. Defaults to (224, 224).

    Returns:
        uint8 RGB array, HxWx3.
    """
    return FrameRenderer(scene, size).frame(t)


def render_audio(scene: Scene) -> np.ndarray:
    """Render the scene's audio: its sounding objects mixed, peak-normalised, 16 kHz mono.

    Args:
        scene: The scene.

    Returns:
        float32 samples, 10 s at ``maskaudit.data.sound.SAMPLE_RATE``.
    """
    stems = [sound.synthesize(o.sound) for o in scene.objects if o.sounding and o.sound is not None]
    samples, _ = sound.mix(stems, scene.seed)
    return samples
