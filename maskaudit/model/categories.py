"""Category labels for the grounding loss: what each whole object shows, what an expression names.

The synthetic benchmark's sidecar records every scene's objects and, per expression, the category
it names ("the sounding piano", "the sounding object on the left of the cello"). A candidate
whose mask is an object's whole ground truth (``gt/<object>.png``) therefore has a known
category. Training uses these labels to teach the frame encoder what each category looks like
and the expression side which category it names; the exported graphs never see them. Data
without a sidecar (the real MQ-RAVSBench) gets no labels (-1) and trains without that loss.
"""

from __future__ import annotations

from pathlib import Path

from maskaudit.data.records import Candidate
from maskaudit.data.vocabulary import load_vocabulary

NO_CATEGORY = -1
"""Label of a candidate or expression whose category is unknown or not whole."""

WHOLE_OBJECT_DIR = "gt"
"""Folder of a video's whole-object masks, one ``<object index>.png`` per object."""


def category_names() -> list[str]:
    """Return every vocabulary category in name order: the label index space."""
    return list(load_vocabulary())


class CategoryLabels:
    """Look up category labels in a synthetic benchmark's sidecar.

    Args:
        scene_info: The sidecar (``maskaudit.data.reader.load_scene_info``); {} gives no labels.
    """

    def __init__(self, scene_info: dict) -> None:
        self._videos = scene_info.get("videos", {}) if scene_info else {}
        self._expressions = scene_info.get("expressions", {}) if scene_info else {}
        self._index = {name: i for i, name in enumerate(category_names())}

    def _category(self, name: object) -> int:
        return self._index.get(name, NO_CATEGORY) if isinstance(name, str) else NO_CATEGORY

    def of_candidate(self, candidate: Candidate) -> int:
        """Return the category of a whole-object candidate, else ``NO_CATEGORY``."""
        path = Path(candidate.mask_path)
        if path.parent.name != WHOLE_OBJECT_DIR or not path.stem.isdigit():
            return NO_CATEGORY
        objects = self._videos.get(candidate.vid, {}).get("objects", [])
        index = int(path.stem)
        if index >= len(objects) or not isinstance(objects[index], dict):
            return NO_CATEGORY
        return self._category(objects[index].get("category"))

    def named_by(self, uid: str) -> int:
        """Return the category the expression of ``uid`` names, else ``NO_CATEGORY``."""
        entry = self._expressions.get(uid, {})
        return self._category(entry.get("category")) if isinstance(entry, dict) else NO_CATEGORY
