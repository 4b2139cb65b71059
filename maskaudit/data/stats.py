"""Statistics of a synthetic benchmark: how guessable are its targets without the expression?

For each expression of a split, ``benchmark_stats`` checks whether the referred object is simply
the largest object, the most central one, or the most moving one (largest variance of its
visual envelope), next to the chance of guessing one object at random. A benchmark where any of
these were nearly always true could be solved without audio or text.

Run ``python -m maskaudit.data.stats ROOT [--split test_s]`` to print the table.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from maskaudit.data.reader import load_scene_info
from maskaudit.errors import DataError


def benchmark_stats(root: str | Path, split: str = "test_s") -> dict:
    """Compute target shortcut rates and the kind distribution of one split.

    Args:
        root: Root of a benchmark written by ``maskaudit synth`` (needs its sidecar).
        split: ``train``, ``test_s`` or ``test_u``. Defaults to ``test_s``.

    Returns:
        ``expressions`` (count), ``largest``, ``central``, ``moving`` (fractions of expressions
        whose target is that object), ``chance`` (mean of 1 / objects per scene), ``sounding``
        (mean sounding objects per scene), ``objects`` (mean objects per scene) and ``kinds``
        (count per expression kind, most common first).

    Raises:
        DataError: If the benchmark has no sidecar or the split has no expression.
    """
    info = load_scene_info(root)
    if not info:
        raise DataError(f"{root} has no synth_scenes.json: statistics need a synthetic benchmark")
    videos = info["videos"]
    hits = Counter()
    kinds: Counter[str] = Counter()
    chance, sounding, objects = [], [], []
    for expression in info["expressions"].values():
        scene = videos[expression["vid"]]
        if scene["split"] != split:
            continue
        items = scene["objects"]
        target = expression["target"]
        area = [o["area"] for o in items]
        centre = [np.hypot(o["cx"] - 0.5, o["cy"] - 0.5) for o in items]
        motion = [float(np.var(o["visual_envelope"])) for o in items]
        hits["largest"] += int(np.argmax(area)) == target
        hits["central"] += int(np.argmin(centre)) == target
        hits["moving"] += int(np.argmax(motion)) == target
        kinds[expression["kind"]] += 1
        chance.append(1.0 / len(items))
        sounding.append(sum(o["sounding"] for o in items))
        objects.append(len(items))
    n = sum(kinds.values())
    if n == 0:
        raise DataError(f"{root} has no expression in split {split!r}")
    return {
        "split": split,
        "expressions": n,
        "largest": hits["largest"] / n,
        "central": hits["central"] / n,
        "moving": hits["moving"] / n,
        "chance": float(np.mean(chance)),
        "objects": float(np.mean(objects)),
        "sounding": float(np.mean(sounding)),
        "kinds": dict(kinds.most_common()),
    }


def format_stats(stats: dict) -> str:
    """Render ``benchmark_stats``'s result as a Markdown table.

    Args:
        stats: The result of ``benchmark_stats``.

    Returns:
        Markdown text.
    """
    lines = [
        f"Split {stats['split']}: {stats['expressions']} expressions, "
        f"{stats['objects']:.2f} objects and {stats['sounding']:.2f} sounding objects per scene.",
        "",
        "| the target is ... | fraction |",
        "|---|---|",
        f"| the largest object | {stats['largest']:.3f} |",
        f"| the most central object | {stats['central']:.3f} |",
        f"| the most moving object (visual envelope variance) | {stats['moving']:.3f} |",
        f"| a random object (chance) | {stats['chance']:.3f} |",
        "",
        "| kind | expressions |",
        "|---|---|",
    ]
    lines += [f"| {kind} | {count} |" for kind, count in stats["kinds"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the statistics table: ``python -m maskaudit.data.stats ROOT [--split S]``."""
    parser = argparse.ArgumentParser(prog="python -m maskaudit.data.stats", description=__doc__)
    parser.add_argument("root", help="benchmark root written by maskaudit synth")
    parser.add_argument("--split", default="test_s", help="split to describe (default: test_s)")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(format_stats(benchmark_stats(args.root, args.split)) + "\n")
    except DataError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
