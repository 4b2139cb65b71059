"""Synthetic audio-visual scenes: objects that look and sound like their category.

A scene has a textured background and 2-4 still objects. Each object is *sounding* or *silent*
(at least one sounds). A sounding object's sound has an onset, a duration, a loudness, a
fundamental (all sounding objects' fundamentals at least ``PITCH_GAP_OCTAVES`` apart), a rhythm
or a steady tone, and may be continuous (the whole 10 s). Its per-second envelope (the RMS of its
own sound in the mix, second by second, which includes a random per-second fluctuation also
applied to the audio) drives its brightness: frame ``k`` shows it at ``0.5 + 0.5 * env[k] /
max(env)``. A silent object is, with probability ``DISTRACTOR_P``, a visual distractor that
pulses the same way with the envelope of a sound that is never played; otherwise it holds a
constant brightness. So the picture shows which objects pulse, and only the audio tells which
pulses are sounds, how loud, how low and how fast.

``make_scene`` builds a scene for a chosen expression kind so that the expression has exactly one
target with a clear margin (see ``maskaudit.data.expressions``), then adds a second expression
with another target where the scene allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from maskaudit.data import expressions as ex
from maskaudit.data import sound
from maskaudit.data.render import hsv, shape_mask, unit_area, visible_masks
from maskaudit.data.vocabulary import F0_MAX, F0_MIN, load_vocabulary, seen_categories

PITCH_GAP_OCTAVES = 0.6
"""Minimum distance between two sounding objects' fundamentals, in octaves."""

DISTRACTOR_P = 0.7
"""Probability that a silent object pulses like a sounding one."""

AREA_RANGE = (0.03, 0.15)
"""Allowed visible area of an object, as a fraction of the frame."""

MAX_OVERLAP = 0.10
"""Largest overlap of two objects' full shapes, as a fraction of the smaller one."""

LAYOUT_SIZE = (224, 224)
"""Size at which layouts are checked (the benchmark's frame size)."""

SECOND_KIND_AVAILABILITY: dict[str, float] = {
    "sounding_category": 0.9,
    "first": 0.3,
    "last": 0.35,
    "loudest": 0.2,
    "continuous": 0.2,
    "longest": 0.25,
    "shortest": 0.3,
    "lowest": 0.45,
    "lower_than": 0.45,
    "faster_rhythm": 0.1,
    "slower_rhythm": 0.1,
    "left_of": 0.45,
    "right_of": 0.4,
    "near": 0.2,
}
"""How often each kind can refer to a second object of a scene (measured on generated scenes);
the second expression's kind is drawn with weights 1 / availability so kinds stay balanced."""

BACKGROUNDS: tuple[str, ...] = ("gradient", "noise", "blobs", "lines", "tiles", "mixed")
"""Background families."""


@dataclass(frozen=True)
class Background:
    """A background description (painted by ``maskaudit.data.render.render_background``).

    Attributes:
        family: One of ``BACKGROUNDS``.
        palette: Three RGB colours in [0, 1].
        seed: Seed of the family's random layout.
    """

    family: str
    palette: tuple[tuple[float, float, float], ...]
    seed: int


@dataclass
class SceneObject:
    """One object of a scene.

    Attributes:
        category: Category name.
        shape: Outline shape.
        texture: Surface texture.
        hue: Hue in degrees (the category's, with a small per-instance jitter).
        cx: Centre x as a fraction of the frame width.
        cy: Centre y as a fraction of the frame height.
        radius: Radius as a fraction of the frame's shorter side.
        rotation: Rotation in degrees.
        texture_period: Texture period in radii.
        texture_phase: Texture phase in [0, 1).
        sounding: Whether it makes a sound in the audio.
        distractor: For a silent object, whether it pulses anyway.
        sound: Its sound (None when silent).
        envelope: Ten per-second RMS values of its own sound in the mix (0 when silent).
        visual_envelope: Ten per-frame brightness factors in [0.5, 1].
    """

    category: str
    shape: str
    texture: str
    hue: float
    cx: float
    cy: float
    radius: float
    rotation: float
    texture_period: float
    texture_phase: float
    sounding: bool = False
    distractor: bool = False
    sound: sound.SoundSpec | None = None
    envelope: tuple[float, ...] = ()
    visual_envelope: tuple[float, ...] = ()

    @property
    def onset(self) -> float | None:
        """Sound onset in seconds, None when silent."""
        return self.sound.onset if self.sounding and self.sound else None

    @property
    def duration(self) -> float | None:
        """Sound duration in seconds, None when silent."""
        return self.sound.duration if self.sounding and self.sound else None

    @property
    def loudness_db(self) -> float | None:
        """Sound gain in dB, None when silent."""
        return self.sound.loudness_db if self.sounding and self.sound else None

    @property
    def f0(self) -> float | None:
        """Fundamental in Hz, None when silent."""
        return self.sound.f0 if self.sounding and self.sound else None

    @property
    def rhythm_hz(self) -> float | None:
        """Pulse rate in Hz (0 = steady), None when silent."""
        return self.sound.rhythm_hz if self.sounding and self.sound else None

    @property
    def continuous(self) -> bool:
        """True if it sounds for the whole clip."""
        return bool(
            self.sounding and self.sound and self.sound.onset == 0 and self.sound.duration >= 10
        )


@dataclass
class Scene:
    """A synthetic audio-visual scene.

    Attributes:
        seed: Seed of the scene's own noise (audio floor, sensor noise).
        background: The background.
        objects: Objects in z-order (later ones occlude earlier ones).
        expressions: Referring expressions resolved against the scene.
        mix_gain: Gain applied to the summed stems to peak-normalise the audio.
    """

    seed: int
    background: Background
    objects: list[SceneObject]
    expressions: list[ex.Expression] = field(default_factory=list)
    mix_gain: float = 1.0


def _layout(rng: np.random.Generator, n: int) -> list[dict] | None:
    """Place ``n`` objects with allowed areas and small overlaps, or None if it fails."""
    for _ in range(60):
        placed = []
        for _ in range(n):
            area = float(rng.uniform(0.04, 0.12))
            radius = float(np.sqrt(area / np.pi))
            margin = min(0.45, 1.1 * radius + 0.01)
            placed.append(
                {
                    "area": area,
                    "radius": radius,
                    "cx": float(rng.uniform(margin, 1 - margin)),
                    "cy": float(rng.uniform(margin, 1 - margin)),
                    "rotation": float(rng.uniform(0, 360)),
                }
            )
        if all(
            np.hypot(a["cx"] - b["cx"], a["cy"] - b["cy"]) > 0.75 * (a["radius"] + b["radius"])
            for i, a in enumerate(placed)
            for b in placed[i + 1 :]
        ):
            return placed
    return None


def _objects_ok(objects: list[SceneObject]) -> bool:
    """Check visible areas and pairwise overlaps at the benchmark size."""
    total = LAYOUT_SIZE[0] * LAYOUT_SIZE[1]
    full = [shape_mask(o, LAYOUT_SIZE) for o in objects]
    areas = [int(m.sum()) for m in full]
    for i in range(len(full)):
        for j in range(i + 1, len(full)):
            if np.count_nonzero(full[i] & full[j]) > MAX_OVERLAP * min(areas[i], areas[j]):
                return False
    visible = visible_masks(objects, LAYOUT_SIZE)
    return all(AREA_RANGE[0] <= m.sum() / total <= AREA_RANGE[1] for m in visible)


def _pitches(rng: np.random.Generator, ranges: list[tuple[float, float]]) -> list[float]:
    """Fundamentals, one per range, pairwise at least ``PITCH_GAP_OCTAVES`` apart."""

    def separated(values: list[float]) -> bool:
        logs = sorted(np.log2(values))
        return all(b - a >= PITCH_GAP_OCTAVES + 0.01 for a, b in zip(logs, logs[1:], strict=False))

    for _ in range(60):
        values = [float(2 ** rng.uniform(np.log2(lo), np.log2(hi))) for lo, hi in ranges]
        if separated(values):
            return values
    while True:
        values = [float(2 ** rng.uniform(np.log2(F0_MIN), np.log2(F0_MAX))) for _ in ranges]
        if separated(values):
            return values


def _free_timing(rng: np.random.Generator, allow_continuous: bool = True) -> tuple[float, float]:
    """(onset, duration) of an unconstrained sound; continuous sounds are (0, 10)."""
    if allow_continuous and rng.random() < 0.25:
        return 0.0, 10.0
    onset = float(rng.uniform(0, 6.5))
    end = float(rng.uniform(onset + 1.5, 10.0))
    if onset < 1.0 and end > 9.0:
        end = float(rng.uniform(onset + 1.5, 9.0))
    return onset, end - onset


def _timing_with_duration(rng: np.random.Generator, duration: float) -> tuple[float, float]:
    """(onset, duration) for a given duration (10 s = continuous)."""
    if duration >= 10.0:
        return 0.0, 10.0
    onset = float(rng.uniform(0, 10.0 - duration))
    if onset < 1.0 and onset + duration > 9.0:
        onset = float(rng.uniform(1.0, max(1.0, 10.0 - duration)))
    return onset, duration


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A number between low and high, uniform in log scale."""
    return float(2 ** rng.uniform(np.log2(low), np.log2(high)))


def _plan_sounds(
    rng: np.random.Generator,
    kind: str,
    target: int,
    ref: int | None,
    sounding: list[int],
    ranges: dict[int, tuple],
) -> dict[int, dict]:
    """Sound attributes of the sounding objects, constrained so ``kind`` picks ``target``."""
    plan = {}
    for i in sounding:
        onset, duration = _free_timing(rng)
        steady = rng.random() < 0.45
        plan[i] = {
            "onset": onset,
            "duration": duration,
            "loudness_db": float(rng.uniform(-20, 0)),
            "rhythm_hz": 0.0 if steady else _log_uniform(rng, 1.0, 8.0),
        }
    pitches = _pitches(rng, [ranges[i] for i in sounding])
    others = [i for i in sounding if i != target]
    order = [int(i) for i in rng.permutation(sounding)]
    if kind in ("lowest", "lower_than"):
        order = (
            [target]
            + ([ref] if kind == "lower_than" else [])
            + [i for i in order if i not in (target, ref)]
        )
        pitches = sorted(pitches)
    for i, f0 in zip(order, pitches, strict=True):
        plan[i]["f0"] = f0

    t = plan[target]
    if kind == "first":
        first = 0.0 if rng.random() < 0.3 else float(rng.uniform(0, 2.0))
        t["onset"], t["duration"] = (
            (0.0, 10.0) if first == 0.0 else (first, float(rng.uniform(1.5, 10 - first)))
        )
        for i in others:
            onset = float(rng.uniform(first + 1.1, 7.0))
            plan[i]["onset"], plan[i]["duration"] = onset, float(rng.uniform(1.5, 10 - onset))
    elif kind == "last":
        latest = 0.0
        for i in others:
            plan[i]["onset"], plan[i]["duration"] = _free_timing(rng)
            plan[i]["onset"] = min(plan[i]["onset"], 5.0)
            plan[i]["duration"] = min(plan[i]["duration"], 10 - plan[i]["onset"])
            latest = max(latest, plan[i]["onset"])
        onset = float(rng.uniform(latest + 1.1, min(latest + 3.0, 8.5)))
        t["onset"], t["duration"] = onset, float(rng.uniform(1.0, 10 - onset))
    elif kind == "loudest":
        t["loudness_db"] = float(rng.uniform(-6, 0))
        for i in others:
            plan[i]["loudness_db"] = float(rng.uniform(-24, t["loudness_db"] - 6.2))
    elif kind == "continuous":
        t["onset"], t["duration"] = 0.0, 10.0
        for i in others:
            plan[i]["onset"], plan[i]["duration"] = _free_timing(rng, allow_continuous=False)
    elif kind == "longest":
        length = 10.0 if rng.random() < 0.3 else float(rng.uniform(5.0, 9.0))
        t["onset"], t["duration"] = _timing_with_duration(rng, length)
        for i in others:
            plan[i]["onset"], plan[i]["duration"] = _timing_with_duration(
                rng, float(rng.uniform(1.0, length - 2.1))
            )
    elif kind == "shortest":
        length = float(rng.uniform(1.0, 3.0))
        t["onset"], t["duration"] = _timing_with_duration(rng, length)
        for i in others:
            other = 10.0 if rng.random() < 0.3 else float(rng.uniform(length + 2.1, 9.0))
            plan[i]["onset"], plan[i]["duration"] = _timing_with_duration(rng, other)
    elif kind == "faster_rhythm":
        for i in others:
            plan[i]["rhythm_hz"] = _log_uniform(rng, 1.0, 2.8)
        t["rhythm_hz"] = float(rng.uniform(2.1 * max(plan[i]["rhythm_hz"] for i in others), 8.0))
    elif kind == "slower_rhythm":
        t["rhythm_hz"] = _log_uniform(rng, 1.0, 2.0)
        for i in others:
            plan[i]["rhythm_hz"] = float(rng.uniform(2.1 * t["rhythm_hz"], 8.0))
    return plan


def _spec(attrs: dict, timbre: str, rng: np.random.Generator) -> sound.SoundSpec:
    """A rounded ``SoundSpec`` (so stored facts equal the synthesised ones)."""
    onset = round(attrs["onset"], 2)
    duration = round(min(attrs["duration"], 10.0 - onset), 2)
    return sound.SoundSpec(
        timbre=timbre,
        f0=round(attrs["f0"], 1),
        onset=onset,
        duration=duration,
        loudness_db=round(attrs["loudness_db"], 1),
        rhythm_hz=round(attrs["rhythm_hz"], 2),
        fluctuation=tuple(round(float(v), 3) for v in rng.uniform(0.6, 1.0, sound.CLIP_SECONDS)),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def _random_spec(
    rng: np.random.Generator, timbre: str, f0_range: tuple[float, float]
) -> sound.SoundSpec:
    """An unconstrained sound (used for distractors' never-played envelopes)."""
    onset, duration = _free_timing(rng)
    attrs = {
        "onset": onset,
        "duration": duration,
        "loudness_db": float(rng.uniform(-20, 0)),
        "rhythm_hz": 0.0 if rng.random() < 0.45 else _log_uniform(rng, 1.0, 8.0),
        "f0": _log_uniform(rng, *f0_range),
    }
    return _spec(attrs, timbre, rng)


def _visual(envelope: np.ndarray) -> tuple[float, ...]:
    """Per-frame brightness from a per-second envelope."""
    peak = float(envelope.max())
    if peak <= 0:
        return (0.5,) * len(envelope)
    return tuple(round(0.5 + 0.5 * float(v) / peak, 4) for v in envelope)


def _roles(
    rng: np.random.Generator, kind: str, geometry: list[dict]
) -> tuple[int, int | None, list[int]] | None:
    """Choose (target, reference, sounding objects) for a kind over a layout, or None."""
    n = len(geometry)
    everyone = list(range(n))

    def subset(pool: list[int], at_least: int) -> list[int]:
        if len(pool) < at_least:
            return []
        k = int(rng.integers(at_least, len(pool) + 1))
        return [int(i) for i in rng.choice(pool, size=k, replace=False)] if k else []

    if kind in ("left_of", "right_of"):
        sign = -1.0 if kind == "left_of" else 1.0
        refs = []
        for x in everyone:
            side = [
                i
                for i in everyone
                if i != x and sign * (geometry[i]["cx"] - geometry[x]["cx"]) >= ex.SIDE_GAP + 0.02
            ]
            if side:
                refs.append((x, side))
        if not refs:
            return None
        x, side = refs[int(rng.integers(0, len(refs)))]
        target = int(rng.choice(side))
        free = [i for i in everyone if i not in (x, target)]
        free = [
            i
            for i in free
            if sign * (geometry[i]["cx"] - geometry[x]["cx"]) <= -ex.SIDE_SLACK - 0.02
        ]
        extra = subset(free + [x], 1)
        return target, x, sorted({target, *extra})
    if kind == "near":
        x = int(rng.integers(0, n))
        dist = {
            i: np.hypot(
                geometry[i]["cx"] - geometry[x]["cx"], geometry[i]["cy"] - geometry[x]["cy"]
            )
            for i in everyone
        }
        choices = []
        for t in everyone:
            far = [
                i for i in everyone if i not in (x, t) and dist[i] >= ex.NEAR_RATIO * dist[t] * 1.05
            ]
            if t != x and far:
                choices.append((t, far))
        if not choices:
            return None
        target, far = choices[int(rng.integers(0, len(choices)))]
        extra = subset(far, 1) + ([x] if rng.random() < 0.5 else [])
        return target, x, sorted({target, *extra})

    target = int(rng.integers(0, n))
    others = [i for i in everyone if i != target]
    if kind == "sounding":
        return target, None, [target]
    if kind == "sounding_category":
        return target, None, sorted({target, *subset(others, 0)})
    if kind == "lower_than":
        ref = int(rng.choice(others))
        rest = [i for i in others if i != ref]
        return target, ref, sorted({target, ref, *subset(rest, 0)})
    return target, None, sorted({target, *subset(others, 1)})


def _attempt(
    rng: np.random.Generator, kind: str, pool: list[str], targets: list[str], n_expressions: int
) -> Scene | None:
    """One try at building a scene for ``kind``; None if it does not resolve cleanly."""
    vocabulary = load_vocabulary()
    n = int(rng.choice([3, 4])) if kind == "near" else int(rng.choice([2, 3, 4], p=[0.2, 0.4, 0.4]))
    geometry = _layout(rng, n)
    if geometry is None:
        return None
    roles = _roles(rng, kind, geometry)
    if roles is None:
        return None
    target, ref, sounding = roles

    names = [""] * n
    names[target] = str(rng.choice(targets))
    rest = [c for c in pool if c != names[target]]
    picks = rng.choice(rest, size=n - 1, replace=False)
    for i, name in zip([i for i in range(n) if i != target], picks, strict=True):
        names[i] = str(name)
    silent = [i for i in range(n) if i not in sounding]
    if kind == "sounding_category" and silent and rng.random() < 0.5:
        names[int(rng.choice(silent))] = names[target]

    objects = []
    for name, g in zip(names, geometry, strict=True):
        look = vocabulary[name].appearance
        scale = np.sqrt(g["area"] / unit_area(look.shape))
        objects.append(
            SceneObject(
                category=name,
                shape=look.shape,
                texture=look.texture,
                hue=round(float((look.hue + rng.uniform(-8, 8)) % 360), 1),
                cx=round(g["cx"], 4),
                cy=round(g["cy"], 4),
                radius=round(float(scale), 4),
                rotation=round(g["rotation"], 1),
                texture_period=round(float(rng.uniform(0.35, 0.6)), 3),
                texture_phase=round(float(rng.uniform(0, 1)), 3),
            )
        )
    if not _objects_ok(objects):
        return None

    ranges = {
        i: (vocabulary[names[i]].timbre.f0_low, vocabulary[names[i]].timbre.f0_high)
        for i in sounding
    }
    plan = _plan_sounds(rng, kind, target, ref, sounding, ranges)
    stems = {}
    for i in sounding:
        objects[i].sounding = True
        objects[i].sound = _spec(plan[i], vocabulary[names[i]].timbre.family, rng)
        stems[i] = sound.synthesize(objects[i].sound)
    total = np.sum(list(stems.values()), axis=0)
    gain = sound.PEAK / max(float(np.max(np.abs(total))), 1e-9)
    for i, obj in enumerate(objects):
        if obj.sounding:
            env = sound.per_second_rms(stems[i] * gain)
            obj.envelope = tuple(round(float(v), 6) for v in env)
            obj.visual_envelope = _visual(env)
            continue
        obj.envelope = (0.0,) * sound.CLIP_SECONDS
        timbre = vocabulary[obj.category].timbre
        if rng.random() < DISTRACTOR_P:
            obj.distractor = True
            fake = _random_spec(rng, timbre.family, (timbre.f0_low, timbre.f0_high))
            obj.visual_envelope = _visual(sound.per_second_rms(sound.synthesize(fake)))
        else:
            obj.visual_envelope = (round(float(rng.uniform(0.6, 1.0)), 4),) * sound.CLIP_SECONDS

    category = None
    if kind == "sounding_category":
        category = names[target]
    elif kind in ex.REFERENCE_KINDS:
        category = names[ref]
    if ex.resolve(kind, objects, category) != target:
        return None
    first = ex.Expression(ex.word(kind, category, rng), kind, target, category)
    scene = Scene(
        seed=int(rng.integers(0, 2**31 - 1)),
        background=_background(rng),
        objects=objects,
        expressions=[first],
        mix_gain=round(gain, 6),
    )
    if n_expressions > 1:
        second = _second_expression(rng, objects, first, targets)
        if second is not None:
            scene.expressions.append(second)
    return scene


def _second_expression(
    rng: np.random.Generator,
    objects: list[SceneObject],
    first: ex.Expression,
    targets: Sequence[str],
) -> ex.Expression | None:
    """Another expression of the scene, with another target if any resolves."""
    found = [
        o for o in ex.options(objects) if objects[o[2]].category in targets and o[0] != first.kind
    ]
    other_target = [o for o in found if o[2] != first.target]
    pool = other_target or found
    if not pool:
        return None
    kinds = sorted({o[0] for o in pool})
    weights = np.array([1.0 / SECOND_KIND_AVAILABILITY.get(k, 0.5) for k in kinds])
    kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    picks = [o for o in pool if o[0] == kind]
    kind, category, target = picks[int(rng.integers(0, len(picks)))]
    return ex.Expression(ex.word(kind, category, rng), kind, target, category)


def _background(rng: np.random.Generator) -> Background:
    """A random background description."""
    family = str(rng.choice(BACKGROUNDS))
    palette = tuple(
        tuple(
            round(float(c), 4)
            for c in hsv(rng.uniform(0, 360), rng.uniform(0.05, 0.55), rng.uniform(0.2, 0.85))
        )
        for _ in range(3)
    )
    return Background(family=family, palette=palette, seed=int(rng.integers(0, 2**31 - 1)))


def make_scene(
    rng: np.random.Generator,
    kind: str | None = None,
    categories: Sequence[str] | None = None,
    target_categories: Sequence[str] | None = None,
    n_expressions: int = 2,
    max_tries: int = 400,
) -> Scene:
    """Build a scene for an expression kind, with its expressions resolved.

    Args:
        rng: Random generator; the scene depends only on it and the arguments.
        kind: One of ``maskaudit.data.expressions.KINDS``. Defaults to None (uniform choice).
        categories: Categories objects may have. Defaults to None (the seen categories).
        target_categories: Categories a referred object may have. Defaults to None (same as
            ``categories``).
        n_expressions: Expressions to make (1 or 2). Defaults to 2; the second refers to another
            object where one resolves, else to the same object in another way, and is left out
            when nothing else resolves.
        max_tries: Attempts before giving up. Defaults to 400.

    Returns:
        The scene; ``scene.expressions[0]`` has the asked kind.

    Raises:
        ValueError: On an unknown kind, too few categories, or no scene after ``max_tries``.

    Example:
        >>> import numpy as np
        >>> scene = make_scene(np.random.default_rng(0), kind="loudest")
        >>> scene.expressions[0].text
        'the object making the loudest sound'
    """
    kind = str(rng.choice(ex.KINDS)) if kind is None else kind
    if kind not in ex.KINDS:
        raise ValueError(f"unknown expression kind {kind!r}; expected one of {ex.KINDS}")
    pool = sorted(categories) if categories is not None else seen_categories()
    targets = sorted(target_categories) if target_categories is not None else pool
    unknown = sorted(set(pool) - set(load_vocabulary()))
    if unknown or not targets or len(set(pool) | set(targets)) < 5:
        raise ValueError(f"need at least 5 known categories; unknown: {unknown}")
    pool = sorted(set(pool) | set(targets))
    for _ in range(max_tries):
        scene = _attempt(rng, kind, pool, targets, n_expressions)
        if scene is not None:
            return scene
    raise ValueError(f"could not build a scene for kind {kind!r} in {max_tries} tries")
