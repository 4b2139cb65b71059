"""``maskaudit stream``: audit a video, camera or URL stream; write JSON-lines verdicts."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from maskaudit.commands.audit import load_auditor, runtime_options
from maskaudit.errors import ConfigError

logger = logging.getLogger(__name__)


@click.command(name="stream")
@click.option(
    "--video",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Video file. Read frame by frame; no frame is dropped.",
)
@click.option(
    "--camera",
    type=click.IntRange(min=0),
    default=None,
    help="Camera index (live: when the auditor is slower than the camera, the oldest waiting "
    "frame is dropped and counted).",
)
@click.option("--url", default=None, help="RTSP or HTTP stream URL (live, like --camera).")
@click.option(
    "--audio",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Audio (WAV, 16 kHz read window by window; other formats are decoded with librosa). "
    "Default: the video's own audio track (needs PyAV: pip install av).",
)
@click.option(
    "--masks",
    required=True,
    help="Candidate masks: a PNG folder (000012.png, frame_12_m1.png, t_0.480.png, or one "
    "subfolder per mask id), a mask video, an .npz, or an RLE .jsonl file.",
)
@click.option("--expression", required=True, help="The referring expression.")
@click.option(
    "--out",
    default="-",
    show_default=True,
    help="Where JSON-lines verdicts go, one line per candidate, flushed per line ('-' = stdout).",
)
@click.option(
    "--overlay",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write an overlay video (mp4v): candidates tinted by action (accept green, minor "
    "revision yellow, major revision orange, reject red) with IoU and type. Default: none.",
)
@click.option(
    "--smooth",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Average each candidate's scores over N frames and hold its action until a new one "
    "wins --hold frames in a row (0 or 1 = off). Steadier decisions, slower reactions.",
)
@click.option(
    "--hold",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="With --smooth: frames a new action must win before the verdict switches to it.",
)
@click.option(
    "--queue",
    "queue_size",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Frames buffered between decoding, auditing and writing (memory vs. smoothing of "
    "bursts). Live sources keep only the newest frame waiting.",
)
@click.option(
    "--reconnect",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Camera or URL: reconnect attempts in a row when the stream stalls, waiting 0.5 s, "
    "then twice as long each time (at most 8 s); each attempt is logged and counted in the "
    "summary. 0 ends the stream at the first failed read.",
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the end-of-stream summary as JSON to this file. Default: none.",
)
@runtime_options
def command(
    video: Path | None,
    camera: int | None,
    url: str | None,
    audio: Path | None,
    masks: str,
    expression: str,
    out: str,
    overlay: Path | None,
    smooth: int,
    hold: int,
    queue_size: int,
    reconnect: int,
    summary_json: Path | None,
    bundle: Path | None,
    backend: str,
    precision: str,
    threads: int | None,
    accept_min_iou: float | None,
    resize_masks: bool,
) -> None:
    """Audit a stream's candidate masks frame by frame and write one verdict per candidate.

    Give exactly one of --video, --camera, --url. A bad frame, mask or audio window gives a
    verdict whose status is the error, and the stream goes on; a bad configuration fails at
    once (exit code 1). The summary (frames, verdicts, errors, drops, fps, latency
    p50/p90/p99) goes to stderr at the end.

    SIGINT (Ctrl-C) or SIGTERM ends the stream cleanly: the frames already read are audited
    and written, the files are closed, the summary is written, and the exit code is 130
    (SIGINT) or 143 (SIGTERM). A second signal interrupts at once.
    """
    from maskaudit.runtime.signals import StopOnSignals
    from maskaudit.runtime.sinks import JsonlSink, OverlaySink
    from maskaudit.runtime.sources import Reconnect

    sources = [s for s in (video, camera, url) if s is not None]
    if len(sources) != 1:
        raise ConfigError("give exactly one of --video, --camera or --url")
    if video is not None and not video.is_file():
        raise ConfigError(f"video {video} does not exist: check the path given to --video")

    auditor = load_auditor(bundle, backend, precision, threads, resize_masks, accept_min_iou)
    run = auditor.stream(
        sources[0] if video is None else str(video),
        masks,
        str(audio) if audio is not None else None,
        expression,
        smooth=smooth,
        hold=hold,
        queue_size=queue_size,
        keep_frames=overlay is not None,
        reconnect=Reconnect(attempts=reconnect),
    )
    try:
        sinks = [JsonlSink(out)]
        if overlay is not None:
            sinks.append(OverlaySink(overlay, fps=run.source.fps))
    except BaseException:
        run.close()
        raise
    with StopOnSignals(run) as stopper:
        try:
            run.run(sinks)
        finally:
            _report(run.summary, summary_json)
    if stopper.received:
        click.echo(f"maskaudit: stopped by {stopper.received}", err=True)
        sys.exit(stopper.exit_code)


def _report(summary: Any, summary_json: Path | None) -> None:
    """Print the summary and write it as JSON; also when the stream ended on an error."""
    if summary is None:
        return
    click.echo(f"maskaudit: {summary.format()}", err=True)
    if summary.backend_note:
        click.echo(f"maskaudit: {summary.backend_note}", err=True)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
