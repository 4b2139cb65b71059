"""``maskaudit demo``: stream a generated sample clip through the shipped bundle."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from maskaudit.commands.audit import load_auditor, runtime_options


@click.command(name="demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Folder for the sample clip, verdicts.jsonl and overlay.mp4.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Seed of the sample scene and its candidate masks.",
)
@click.option(
    "--fps",
    type=float,
    default=10.0,
    show_default=True,
    help="Frame rate of the 20-s sample clip (more frames: smoother video, longer run).",
)
@click.option(
    "--print-every",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Print the verdicts of every N-th frame on stdout (0 = none; all verdicts "
    "always go to OUT/verdicts.jsonl).",
)
@click.option(
    "--smooth",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Temporal smoothing window in frames (0 = off), as in `maskaudit stream`.",
)
@runtime_options
def command(
    out: Path,
    seed: int,
    fps: float,
    print_every: int,
    smooth: int,
    bundle: Path | None,
    backend: str,
    precision: str,
    threads: int | None,
    accept_min_iou: float | None,
    resize_masks: bool,
) -> None:
    """Generate a 20-s sample clip and audit four candidate masks on every frame.

    The clip is a synthetic scene (its 10 s of sound played twice) with the expression "the
    loudest object"; the candidates are the referred object's true mask, an eroded and a
    dilated version of it, and another object's mask (full_neg). Verdicts stream to
    OUT/verdicts.jsonl and an overlay video to OUT/overlay.mp4; at the end, a table compares
    each candidate's predicted actions with its true action. The auditor's context is the last
    10 s, so its answers about sound settle once both sounds have been heard.
    """
    from maskaudit.data.sample_clip import write_sample_clip
    from maskaudit.runtime.sinks import CallbackSink, JsonlSink, OverlaySink

    clip = write_sample_clip(out, seed=seed, fps=fps)
    click.echo(
        f"sample clip: {clip.video} ({clip.frames} frames at {fps:g} fps), "
        f"audio {clip.audio}, expression {clip.expression!r}",
        err=True,
    )
    auditor = load_auditor(bundle, backend, precision, threads, resize_masks, accept_min_iou)
    run = auditor.stream(
        str(clip.video),
        lambda frame, index, t: clip.masks,
        str(clip.audio),
        clip.expression,
        smooth=smooth,
        keep_frames=True,
    )
    actions: dict[str, Counter] = {mask_id: Counter() for mask_id in clip.masks}
    ious: dict[str, list[float]] = {mask_id: [] for mask_id in clip.masks}

    def collect(result) -> None:
        for verdict in result.verdicts:
            record = verdict.to_dict()
            if record.get("status") == "ok" and record["mask_id"] in actions:
                actions[record["mask_id"]][record["action"]] += 1
                ious[record["mask_id"]].append(record["iou"])
            if print_every and result.index % print_every == 0:
                click.echo(json.dumps(record))

    sinks = [
        JsonlSink(out / "verdicts.jsonl"),
        OverlaySink(out / "overlay.mp4", fps=fps),
        CallbackSink(collect, per_frame=True),
    ]
    summary = run.run(sinks)
    click.echo(f"maskaudit: {summary.format()}", err=True)
    click.echo("")
    click.echo(
        "| candidate | true type | true IoU | true action | mean predicted IoU | "
        "frames with the true action |"
    )
    click.echo("|---|---|---|---|---|---|")
    for mask_id, truth in clip.truth.items():
        total = sum(actions[mask_id].values())
        agree = actions[mask_id][truth["action"]] / total if total else 0.0
        mean_iou = sum(ious[mask_id]) / len(ious[mask_id]) if ious[mask_id] else float("nan")
        click.echo(
            f"| {mask_id} | {truth['mask_type']} | {truth['iou']:.3f} | "
            f"{truth['action']} | {mean_iou:.3f} | {agree:.0%} of {total} |"
        )
    click.echo(f"\nverdicts: {out / 'verdicts.jsonl'}  overlay: {out / 'overlay.mp4'}")
