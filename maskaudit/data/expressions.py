"""Referring expressions of synthetic scenes: their kinds, wordings and resolution.

Each kind is one of the real forms of Ref-AVSBench's expressions. ``resolve`` reads the scene's
facts (the objects' categories, positions and sounds) and returns the one object an expression
refers to, or None when no object is referred with a clear margin. The generator only keeps
expressions that resolve, so every expression has exactly one target.

The margins: onsets differ by >= 1 s, loudness by >= 6 dB, durations by >= 2 s, pitch by
>= 0.5 octave, rhythm rates by >= 2x; "left/right of the X" needs the target's centre at least
0.1 of the frame width beyond X's and every other sounding object on the other side;
"near the X" needs every other sounding object at least 1.5x as far from X as the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

KINDS: tuple[str, ...] = (
    "sounding",
    "sounding_category",
    "first",
    "last",
    "loudest",
    "continuous",
    "longest",
    "shortest",
    "lowest",
    "lower_than",
    "faster_rhythm",
    "slower_rhythm",
    "left_of",
    "right_of",
    "near",
)
"""Every expression kind the generator makes."""

CATEGORY_KINDS: frozenset[str] = frozenset(
    {"sounding_category", "lower_than", "left_of", "right_of", "near"}
)
"""Kinds whose wording names a category ``<x>``."""

REFERENCE_KINDS: frozenset[str] = frozenset({"lower_than", "left_of", "right_of", "near"})
"""Kinds whose ``<x>`` is another object (whose category must be unique in the scene)."""

ONSET_MARGIN = 1.0
LOUDNESS_MARGIN_DB = 6.0
DURATION_MARGIN = 2.0
PITCH_MARGIN_OCTAVES = 0.5
RHYTHM_RATIO = 2.0
SIDE_GAP = 0.1
SIDE_SLACK = 0.03
NEAR_RATIO = 1.5

TEMPLATES: dict[str, tuple[str, ...]] = {
    "sounding": (
        "the sounding object",
        "the object making a sound",
        "the object that is making a sound",
    ),
    "sounding_category": (
        "the sounding {x}",
        "the {x} making a sound",
        "the {x} that is making a sound",
    ),
    "first": ("the first object to make a sound", "the object that makes a sound first"),
    "last": ("the last object to make a sound", "the object that makes a sound last"),
    "loudest": ("the object making the loudest sound", "the loudest object"),
    "continuous": (
        "the object that keeps making sound at all times",
        "the object making a continuous sound",
        "the object that makes sound the whole time",
    ),
    "longest": (
        "the object making the longest sound duration",
        "the object making the longest sound",
    ),
    "shortest": (
        "the object making the shortest sound duration",
        "the object making the shortest sound",
    ),
    "lowest": ("the object making the lowest sound", "the object with the lowest pitch"),
    "lower_than": ("the object making a lower sound than the {x}",),
    "faster_rhythm": (
        "the object making a sound with a faster rhythm",
        "the object making a sound with the fastest rhythm",
    ),
    "slower_rhythm": (
        "the object making a sound with a slower rhythm",
        "the object making a sound with the slowest rhythm",
    ),
    "left_of": ("the sounding object on the left of the {x}",),
    "right_of": ("the sounding object on the right of the {x}",),
    "near": ("the sounding object near the {x}", "the sounding object next to the {x}"),
}
"""Wordings per kind (lower-case); ``{x}`` is the category named."""


class Facts(Protocol):
    """What ``resolve`` reads of an object (a ``SceneObject`` or the sidecar's record)."""

    category: str
    cx: float
    cy: float
    sounding: bool
    onset: float | None
    duration: float | None
    loudness_db: float | None
    f0: float | None
    rhythm_hz: float | None
    continuous: bool


@dataclass(frozen=True)
class Expression:
    """A referring expression and what it refers to.

    Attributes:
        text: The expression, lower-case.
        kind: One of ``KINDS``.
        target: Index of the referred object in the scene.
        category: The category named in the text (``<x>``), or None.
    """

    text: str
    kind: str
    target: int
    category: str | None = None


def _unique_by_margin(values: list[tuple[float, int]], margin: float, largest: bool) -> int | None:
    """Index of the largest (or smallest) value if it beats the runner-up by ``margin``."""
    if len(values) < 2:
        return None
    ordered = sorted(values, reverse=largest)
    (best, index), (second, _) = ordered[0], ordered[1]
    return index if abs(best - second) >= margin else None


def _find_unique(objects: Sequence[Facts], category: str | None) -> int | None:
    """Index of the only object of ``category``, or None."""
    hits = [i for i, o in enumerate(objects) if o.category == category]
    return hits[0] if len(hits) == 1 else None


def resolve(kind: str, objects: Sequence[Facts], category: str | None = None) -> int | None:
    """Return the index of the one object an expression refers to, or None.

    Args:
        kind: One of ``KINDS``.
        objects: The scene's objects (anything with the ``Facts`` attributes).
        category: The ``<x>`` of kinds in ``CATEGORY_KINDS``. Defaults to None.

    Returns:
        The target's index, or None when no object or more than one fits with a clear margin.

    Raises:
        ValueError: On an unknown kind, or a category kind without a category.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown expression kind {kind!r}")
    if kind in CATEGORY_KINDS and not category:
        raise ValueError(f"kind {kind!r} needs a category")
    sounding = [i for i, o in enumerate(objects) if o.sounding]
    if kind == "sounding":
        return sounding[0] if len(sounding) == 1 else None
    if kind == "sounding_category":
        hits = [i for i in sounding if objects[i].category == category]
        return hits[0] if len(hits) == 1 else None
    if len(sounding) < 2:
        return None
    if kind in ("first", "last"):
        return _unique_by_margin(
            [(objects[i].onset, i) for i in sounding], ONSET_MARGIN, kind == "last"
        )
    if kind == "loudest":
        return _unique_by_margin(
            [(objects[i].loudness_db, i) for i in sounding], LOUDNESS_MARGIN_DB, True
        )
    if kind == "continuous":
        hits = [i for i in sounding if objects[i].continuous]
        return hits[0] if len(hits) == 1 else None
    if kind in ("longest", "shortest"):
        return _unique_by_margin(
            [(objects[i].duration, i) for i in sounding], DURATION_MARGIN, kind == "longest"
        )
    if kind == "lowest":
        pitches = [(float(np.log2(objects[i].f0)), i) for i in sounding]
        return _unique_by_margin(pitches, PITCH_MARGIN_OCTAVES, False)
    if kind in ("faster_rhythm", "slower_rhythm"):
        rates = [objects[i].rhythm_hz for i in sounding]
        if min(rates) <= 0:
            return None
        logs = [(float(np.log2(r)), i) for r, i in zip(rates, sounding, strict=True)]
        return _unique_by_margin(logs, float(np.log2(RHYTHM_RATIO)) - 1e-9, kind == "faster_rhythm")
    return _resolve_relative(kind, objects, sounding, category)


def _resolve_relative(
    kind: str, objects: Sequence[Facts], sounding: list[int], category: str | None
) -> int | None:
    """Resolve the kinds that compare the target with another object ``<x>``."""
    ref = _find_unique(objects, category)
    if ref is None:
        return None
    x = objects[ref]
    others = [i for i in sounding if i != ref]
    if not others:
        return None
    if kind == "lower_than":
        if not x.sounding:
            return None
        below = [i for i in others if objects[i].f0 < x.f0]
        if len(below) != 1:
            return None
        close = np.log2(x.f0) - np.log2(objects[below[0]].f0) < PITCH_MARGIN_OCTAVES
        return None if close else below[0]
    if kind in ("left_of", "right_of"):
        sign = -1.0 if kind == "left_of" else 1.0
        offsets = {i: sign * (objects[i].cx - x.cx) for i in others}
        side = [i for i, d in offsets.items() if d >= SIDE_GAP]
        if len(side) != 1:
            return None
        rivals_clear = all(d <= -SIDE_SLACK for i, d in offsets.items() if i != side[0])
        return side[0] if rivals_clear else None
    if kind == "near":
        if len(others) < 2:
            return None
        dist = sorted(
            (float(np.hypot(objects[i].cx - x.cx, objects[i].cy - x.cy)), i) for i in others
        )
        return dist[0][1] if dist[1][0] >= NEAR_RATIO * dist[0][0] else None
    raise ValueError(f"unknown expression kind {kind!r}")


def word(kind: str, category: str | None, rng: np.random.Generator) -> str:
    """Word an expression of ``kind`` (naming ``category`` where the kind needs one).

    Args:
        kind: One of ``KINDS``.
        category: The ``<x>`` for kinds in ``CATEGORY_KINDS``, else ignored.
        rng: Chooses among the kind's wordings.

    Returns:
        The lower-case expression text.
    """
    template = TEMPLATES[kind][int(rng.integers(0, len(TEMPLATES[kind])))]
    return template.format(x=category).lower()


def options(objects: Sequence[Facts]) -> list[tuple[str, str | None, int]]:
    """Every (kind, category, target) that resolves in a scene.

    Args:
        objects: The scene's objects.

    Returns:
        The resolvable expressions, in ``KINDS`` order then category order.
    """
    found = []
    categories = sorted({o.category for o in objects})
    for kind in KINDS:
        for category in categories if kind in CATEGORY_KINDS else [None]:
            target = resolve(kind, objects, category)
            if target is not None:
                found.append((kind, category, target))
    return found
