"""The category vocabulary of the synthetic benchmark, with each category's look and sound.

The 52 category names, their frequencies and the seen/unseen split come from the metadata of
Ref-AVSBench; ``derive_vocabulary`` rebuilds ``vocabulary.json`` from that CSV, and the package
only ever loads the shipped JSON. Each category's synthetic *appearance* (shape, hue, texture)
and *timbre* (sound family and pitch range) are derived from a stable hash of its name, so they
never change between runs, machines or Python versions.

Run ``python -m maskaudit.data.vocabulary METADATA_CSV [OUT_JSON]`` to rebuild the file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from maskaudit.errors import DataError

VOCABULARY_PATH = Path(__file__).with_name("vocabulary.json")
"""The shipped vocabulary file."""

ATTRIBUTION = (
    "Derived from the metadata of Ref-AVSBench (GeWu-Lab/Ref-AVS, data/metadata.csv), "
    "MIT License, Copyright (c) 2024 GeWu-Lab."
)

UNSEEN_SPLIT = "test_u"
"""The split of the source metadata whose categories are never seen in training."""

SHAPES: tuple[str, ...] = (
    "disc",
    "ellipse",
    "square",
    "rectangle",
    "triangle",
    "diamond",
    "pentagon",
    "hexagon",
    "star",
    "cross",
    "crescent",
)
"""Outline shapes an object can have."""

TEXTURES: tuple[str, ...] = ("solid", "stripes", "checker", "dots", "gradient")
"""Surface textures an object can have."""

TIMBRES: tuple[str, ...] = ("sine", "harmonic", "buzz", "noise", "pluck", "vibrato")
"""Sound families: pure tone, weak-harmonic tone, square-ish buzz, narrow-band noise,
plucked decay, and a tone with vibrato."""

F0_MIN = 120.0
"""Lowest fundamental frequency (Hz) any object uses."""

F0_MAX = 2000.0
"""Highest fundamental frequency (Hz) any object uses."""

MIN_HUE_GAP = 40.0
"""Two categories with the same shape and texture differ in hue by at least this (degrees)."""


@dataclass(frozen=True)
class Appearance:
    """How objects of one category look.

    Attributes:
        shape: One of ``SHAPES``.
        hue: Hue in degrees, [0, 360).
        texture: One of ``TEXTURES``.
    """

    shape: str
    hue: float
    texture: str


@dataclass(frozen=True)
class Timbre:
    """How objects of one category sound.

    Attributes:
        family: One of ``TIMBRES``.
        f0_low: Lowest fundamental (Hz) of the category's pitch range.
        f0_high: Highest fundamental (Hz) of the category's pitch range.
    """

    family: str
    f0_low: float
    f0_high: float


@dataclass(frozen=True)
class Category:
    """One category of the vocabulary.

    Attributes:
        name: Category name as in the source metadata (e.g. ``emergency-car``).
        count: Number of expressions of this category in the source metadata.
        unseen: True for the categories held out for the ``test_u`` split.
        appearance: The category's look.
        timbre: The category's sound.
    """

    name: str
    count: int
    unseen: bool
    appearance: Appearance
    timbre: Timbre


def _hash_units(text: str, n: int) -> list[float]:
    """Return ``n`` numbers in [0, 1) from the SHA-256 of ``text`` (stable everywhere)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [int.from_bytes(digest[2 * i : 2 * i + 2], "big") / 65536.0 for i in range(n)]


def _appearance_from_hash(name: str, salt: int) -> Appearance:
    """Derive an appearance from the hash of ``name`` and a salt."""
    u = _hash_units(f"appearance:{name}:{salt}", 3)
    return Appearance(
        shape=SHAPES[int(u[0] * len(SHAPES))],
        hue=round(u[1] * 360.0, 1),
        texture=TEXTURES[int(u[2] * len(TEXTURES))],
    )


def _timbre_from_hash(name: str) -> Timbre:
    """Derive a timbre and pitch range from the hash of ``name``."""
    u = _hash_units(f"timbre:{name}", 3)
    low = F0_MIN * 2.0 ** (u[1] * 2.4)
    high = min(F0_MAX, low * 2.0 ** (1.3 + u[2] * 0.9))
    return Timbre(
        family=TIMBRES[int(u[0] * len(TIMBRES))], f0_low=round(low, 1), f0_high=round(high, 1)
    )


def _hue_gap(a: float, b: float) -> float:
    """Circular distance between two hues in degrees."""
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def _distinct(candidate: Appearance, taken: list[Appearance]) -> bool:
    """True if ``candidate`` cannot be confused with any appearance in ``taken``."""
    for other in taken:
        same_form = other.shape == candidate.shape and other.texture == candidate.texture
        if same_form and _hue_gap(other.hue, candidate.hue) < MIN_HUE_GAP:
            return False
    return True


def assign_appearances(names: list[str]) -> dict[str, Appearance]:
    """Give each category a distinct appearance derived from the hash of its name.

    Names are visited in sorted order; each takes the first salted hash whose appearance differs
    from those already given (another shape or texture, or a hue at least ``MIN_HUE_GAP`` away).

    Args:
        names: Category names.

    Returns:
        Appearance per name.
    """
    taken: list[Appearance] = []
    result: dict[str, Appearance] = {}
    for name in sorted(names):
        salt = 0
        while not _distinct(look := _appearance_from_hash(name, salt), taken):
            salt += 1
        taken.append(look)
        result[name] = look
    return result


def category_of_uid(vid: str, uid: str) -> str:
    """Return the category inside a uid ``<vid>_<category>_<n>``.

    Args:
        vid: The video id.
        uid: The expression id, which starts with ``vid``.

    Returns:
        The category name.
    """
    return uid[len(vid) + 1 :].rsplit("_", 1)[0]


def derive_vocabulary(csv_path: str | Path) -> dict:
    """Derive the vocabulary document from Ref-AVSBench's ``metadata.csv``.

    The category of a row is ``uid[len(vid)+1:].rsplit('_', 1)[0]``; pseudo-categories ending in
    ``_null`` are ignored. A category is *unseen* when it occurs in the ``test_u`` split and in no
    other split (``test_u`` also holds seen categories).

    Args:
        csv_path: Path of the metadata CSV (columns vid, uid, split, fid, exp).

    Returns:
        The JSON-ready vocabulary: ``attribution``, ``unseen`` (sorted names) and
        ``categories`` (sorted by name, each with count, unseen, appearance, timbre).

    Raises:
        DataError: If the file is missing or lacks the needed columns.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise DataError(f"metadata CSV {path} not found: pass the path of Ref-AVS metadata.csv")
    counts: Counter[str] = Counter()
    in_unseen_split: set[str] = set()
    elsewhere: set[str] = set()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"vid", "uid", "split"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"metadata CSV {path} lacks columns {sorted(missing)}")
        for row in reader:
            category = category_of_uid(row["vid"], row["uid"])
            if not category or category.endswith("_null") or category == "null":
                continue
            counts[category] += 1
            if row["split"] == UNSEEN_SPLIT:
                in_unseen_split.add(category)
            elif row["split"] != "test_n":
                elsewhere.add(category)
    unseen = in_unseen_split - elsewhere

    names = sorted(counts)
    looks = assign_appearances(names)
    categories = []
    for name in names:
        look = looks[name]
        sound = _timbre_from_hash(name)
        categories.append(
            {
                "name": name,
                "count": counts[name],
                "unseen": name in unseen,
                "appearance": {"shape": look.shape, "hue": look.hue, "texture": look.texture},
                "timbre": {
                    "family": sound.family,
                    "f0_low": sound.f0_low,
                    "f0_high": sound.f0_high,
                },
            }
        )
    return {"attribution": ATTRIBUTION, "unseen": sorted(unseen), "categories": categories}


@lru_cache(maxsize=1)
def load_vocabulary() -> dict[str, Category]:
    """Load the shipped vocabulary.

    Returns:
        Category per name, in name order.

    Raises:
        DataError: If the shipped file is missing or malformed (a broken install).
    """
    try:
        document = json.loads(VOCABULARY_PATH.read_text(encoding="utf-8"))
        result = {}
        for entry in document["categories"]:
            result[entry["name"]] = Category(
                name=entry["name"],
                count=int(entry["count"]),
                unseen=bool(entry["unseen"]),
                appearance=Appearance(**entry["appearance"]),
                timbre=Timbre(**entry["timbre"]),
            )
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"vocabulary file {VOCABULARY_PATH} is unreadable ({exc}): reinstall"
        ) from exc
    return result


def seen_categories() -> list[str]:
    """Return the names of categories used in ``train`` and ``test_s``, sorted."""
    return [name for name, c in load_vocabulary().items() if not c.unseen]


def unseen_categories() -> list[str]:
    """Return the names of categories held out for ``test_u``, sorted."""
    return [name for name, c in load_vocabulary().items() if c.unseen]


def main(argv: list[str] | None = None) -> None:
    """Rebuild the vocabulary JSON: ``python -m maskaudit.data.vocabulary CSV [OUT]``."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stderr.write("usage: python -m maskaudit.data.vocabulary METADATA_CSV [OUT_JSON]\n")
        raise SystemExit(2)
    out = Path(args[1]) if len(args) > 1 else VOCABULARY_PATH
    document = derive_vocabulary(args[0])
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {len(document['categories'])} categories to {out}\n")


if __name__ == "__main__":
    main()
