"""``maskaudit audit``: audit the candidate masks of one frame and print one verdict per mask."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from maskaudit.errors import InputError

logger = logging.getLogger(__name__)


def runtime_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options shared by ``audit`` and ``stream``: bundle, backend, precision, threads."""
    options = [
        click.option(
            "--bundle",
            type=click.Path(path_type=Path),
            default=None,
            help="Bundle folder made by `maskaudit export`. Default: the shipped bundle.",
        ),
        click.option(
            "--backend",
            type=click.Choice(["auto", "trt", "ort-trt", "ort-cuda", "ort-cpu"]),
            default="auto",
            show_default=True,
            help="auto tries trt, ort-trt, ort-cuda, ort-cpu and keeps the first that really "
            "loads (records say which, and why others were skipped). A named backend that "
            "cannot run here is an error.",
        ),
        click.option(
            "--precision",
            type=click.Choice(["int8", "fp32"]),
            default="int8",
            show_default=True,
            help="int8: the QDQ graphs, faster, with the accuracy change stored in the bundle's "
            "manifest; fp32: the reference graphs.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=0),
            default=None,
            help="Intra-op CPU threads per graph; 0: onnxruntime's choice (one per core). "
            "Default: 1 (the graphs are small; the other cores decode and preprocess).",
        ),
        click.option(
            "--accept-min-iou",
            type=click.FloatRange(0.0, 1.0),
            default=None,
            help="The verdict policy's lowest IoU estimate at which an accept stands; raise it "
            "(e.g. 0.75) to accept fewer masks of the wrong object at the cost of some right "
            "ones. Default: the bundle's, fitted at export (0.45 for the shipped bundle).",
        ),
        click.option(
            "--resize-masks",
            is_flag=True,
            default=False,
            help="Stretch masks of another size than the frame (same aspect ratio) instead of "
            "reporting them as errors. Default: off.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def load_auditor(
    bundle: Path | None,
    backend: str,
    precision: str,
    threads: int | None,
    resize_masks: bool,
    accept_min_iou: float | None = None,
) -> Any:
    """Load the auditor for a command (imports the runtime only when a command runs)."""
    from dataclasses import replace

    from maskaudit.runtime.auditor import Auditor

    auditor = Auditor.load(
        bundle, backend=backend, precision=precision, threads=threads, resize_masks=resize_masks
    )
    if accept_min_iou is not None:
        auditor.policy = replace(auditor.policy, accept_min_iou=accept_min_iou)
    return auditor


def _mask_ids(paths: tuple[Path, ...]) -> list[str]:
    """Name candidates by their file stems when those are unique, else ``m0``, ``m1``..."""
    stems = [p.stem for p in paths]
    return stems if len(set(stems)) == len(stems) else [f"m{i}" for i in range(len(paths))]


@click.command(name="audit")
@click.option(
    "--frame",
    "frame_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The frame image (PNG or JPEG).",
)
@click.option(
    "--mask",
    "mask_paths",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A candidate mask PNG at the frame's size; repeat for several candidates (the file "
    "stems become the mask ids).",
)
@click.option(
    "--audio",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Audio of the clip (WAV; other formats are decoded with librosa). The window "
    "[floor(t), floor(t) + 1) s is used. Default: none, the audit hears silence and cannot "
    "judge sound-referred expressions.",
)
@click.option(
    "--t",
    "t",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Time of the frame in the audio, in seconds.",
)
@click.option("--expression", required=True, help="The referring expression.")
@runtime_options
def command(
    frame_path: Path,
    mask_paths: tuple[Path, ...],
    audio: Path | None,
    t: float,
    expression: str,
    bundle: Path | None,
    backend: str,
    precision: str,
    threads: int | None,
    accept_min_iou: float | None,
    resize_masks: bool,
) -> None:
    """Audit one frame's candidate masks and print one verdict JSON line per mask.

    The frame is its own temporal context (one entry). A mask that cannot be used (wrong size,
    unreadable) gets a verdict whose status says why; the other masks are still audited.
    """
    from maskaudit.features.frame import read_frame
    from maskaudit.runtime.sources.audio import open_audio

    frame = read_frame(frame_path)
    window = None
    if audio is not None:
        second = math.floor(t)
        window = open_audio(audio).window(second)
        if window is None:
            raise InputError(
                f"audio {audio} has no window at second {second} (t={t:g} s): pass a --t inside "
                "the audio"
            )
    else:
        logger.warning("no --audio: the audit hears silence")
    auditor = load_auditor(bundle, backend, precision, threads, resize_masks, accept_min_iou)
    verdicts = auditor.audit(
        frame,
        list(mask_paths),
        window,
        expression,
        mask_ids=_mask_ids(mask_paths),
        source=frame_path.name,
        t=t if audio is not None else None,
    )
    for verdict in verdicts:
        click.echo(verdict.to_json())
