"""Checks shared by the report tests: the page's references and the PNGs."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.refs += [value for name, value in attrs if name in ("src", "href") and value]


def references(html: str) -> tuple[list[str], set[str]]:
    """Every src/href of a page, and the tags it uses."""
    parser = _References()
    parser.feed(html)
    parser.close()
    return parser.refs, parser.tags


def assert_png(path: Path, min_side: int = 200) -> np.ndarray:
    """Assert ``path`` decodes to a sizeable image with more than a blank background."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = cv2.imread(str(path))
    assert image is not None, f"{path} does not decode"
    assert min(image.shape[:2]) >= min_side, image.shape
    assert image.std() > 10, f"{path} is nearly uniform"
    packed = image.reshape(-1, 3).astype(np.int32) @ np.array([65536, 256, 1], np.int32)
    assert len(np.unique(packed)) > 20, f"{path} has too few colours"
    return image
