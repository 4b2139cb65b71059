"""Baseline auditors that the evaluator can score beside a trained one.

``prior`` answers every candidate with the train split's mean IoU, majority type and majority
action. ``geometry`` fits small numpy models on hand-made mask and frame features; it sees no
audio and no expression, so it cannot know which object is referred. Both are fitted on the
train split of the benchmark they are evaluated on and return one verdict record per candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from maskaudit.data.records import Candidate
from maskaudit.errors import ConfigError

BASELINES: tuple[str, ...] = ("prior", "geometry")
"""Names accepted by ``make_baseline``."""

Progress = Callable[[Iterable[Candidate], str], Iterable[Candidate]]
"""Wraps an iteration over candidates, given a label, to show progress."""


def no_progress(items: Iterable[Candidate], label: str) -> Iterable[Candidate]:
    """Return ``items`` unchanged: the default ``Progress``, which shows nothing.

    Args:
        items: Candidates.
        label: What the iteration does (ignored).

    Returns:
        ``items``.
    """
    return items


def make_baseline(name: str):
    """Return an unfitted baseline by name.

    Args:
        name: One of ``BASELINES``.

    Returns:
        A ``PriorBaseline`` or ``GeometryBaseline``.

    Raises:
        ConfigError: If the name is unknown.
    """
    if name == "prior":
        from maskaudit.baselines.prior import PriorBaseline

        return PriorBaseline()
    if name == "geometry":
        from maskaudit.baselines.geometry import GeometryBaseline

        return GeometryBaseline()
    raise ConfigError(f"unknown baseline {name!r}: choose one of {', '.join(BASELINES)}")
