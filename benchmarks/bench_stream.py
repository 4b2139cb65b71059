"""Streaming throughput of a bundle against real time, and against the model alone.

Renders a 640x360 sample clip at 25 fps (the demo's scene, its 10 s of sound looped), streams
it through the runtime with one candidate per frame, and compares the wall time with the clip's
duration (real-time factor) and with model-only throughput: a second pass, after the stream,
that runs only the graphs (frame encoder, audio encoder once per second, audit head) on the same
frames, already decoded and preprocessed, one after another. Their ratio is what the pipeline's
decode, preprocessing, audio features and Python cost. The two passes alternate over several
repetitions (the order flipped each time) and the median ratio is kept with every repetition's.
Writes JSON with the machine, versions and command.

Usage (from the repository root):
    python benchmarks/bench_stream.py --bundle maskaudit/assets/default --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from maskaudit.provenance import machine, versions


def model_only_seconds(auditor, clip, masks: dict, fps: float) -> float:
    """Time the graphs alone on every frame of the clip, preprocessing done beforehand."""
    import cv2

    from maskaudit.runtime.context import ContextBuffer
    from maskaudit.runtime.sources.audio import open_audio

    capture = cv2.VideoCapture(str(clip.video))
    prepared = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        prepared.append(auditor.prepare_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    capture.release()
    shape = (clip_size(clip)[1], clip_size(clip)[0], 3)
    candidates = auditor.candidates(masks, shape, keep_soft=False)
    audio = open_audio(str(clip.audio), None)
    windows = {}
    for index in range(len(prepared)):
        second = int(index // fps)
        if second not in windows:
            windows[second] = audio.window(second)
    text = auditor.embed_expression(clip.expression)
    context = ContextBuffer(auditor.sizes.seconds)
    seconds_done = -1
    total = 0.0
    for index, frame in enumerate(prepared):
        second = int(index // fps)
        began = time.perf_counter()
        features = auditor.frame_features([frame], cache=False)[0]
        mel = 0.0
        if second > seconds_done:
            embedding, mel = auditor.embed_windows([windows[second]], cache=False)
            context.add(second, features["context"][0], embedding[0])
            seconds_done = second
        packed = context.pack(auditor.sizes.context_map, auditor.sizes.audio_dim)
        auditor.judge(features, packed, text, candidates)
        total += time.perf_counter() - began - mel
    return total


def stream_pass(auditor, clip, masks: dict) -> tuple[float, int, list[float], list[float]]:
    """Stream the clip once: wall seconds, records, per-frame model and total latency (ms)."""
    run = auditor.stream(
        str(clip.video), lambda frame, index, t: masks, str(clip.audio), clip.expression
    )
    model_ms: list[float] = []
    total_ms: list[float] = []
    records = 0
    started = time.perf_counter()
    for result in run.results():
        records += len(result.verdicts)
        model_ms.append(result.latency_ms.get("model", float("nan")))
        total_ms.append(result.latency_ms.get("total", float("nan")))
    return time.perf_counter() - started, records, model_ms, total_ms


def clip_size(clip) -> tuple[int, int]:
    """(width, height) of a written clip's masks."""
    first = next(iter(clip.masks.values()))
    return first.shape[1], first.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None, help="bundle (default: shipped)")
    parser.add_argument("--precision", default="int8", help="int8 or fp32 (default int8)")
    parser.add_argument("--backend", default="ort-cpu", help="backend (default ort-cpu)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads per graph")
    parser.add_argument("--seconds", type=int, default=30, help="clip length (default 30)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate (default 25)")
    parser.add_argument("--candidates", type=int, default=1, help="masks per frame (default 1)")
    parser.add_argument(
        "--repetitions", type=int, default=3, help="stream and model-only passes (default 3)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/stream.json"))
    args = parser.parse_args()

    from maskaudit.data.sample_clip import write_sample_clip
    from maskaudit.runtime.auditor import Auditor

    workdir = Path(tempfile.mkdtemp(prefix="maskaudit-bench-"))
    loops = max(1, round(args.seconds / 10))
    clip = write_sample_clip(workdir, size=(640, 360), fps=args.fps, loops=loops)
    masks = dict(list(clip.masks.items())[: args.candidates])
    auditor = Auditor.load(
        args.bundle, backend=args.backend, precision=args.precision, threads=args.threads
    )
    duration = clip.frames / args.fps
    walls: list[float] = []
    model_secs: list[float] = []
    model_ms: list[float] = []
    total_ms: list[float] = []
    records = 0
    for repetition in range(args.repetitions):
        # Alternate which pass runs first, so that a drift in machine load touches both alike.
        if repetition % 2:
            model_secs.append(model_only_seconds(auditor, clip, masks, args.fps))
        wall, count, model, total = stream_pass(auditor, clip, masks)
        walls.append(wall)
        records = count
        model_ms += model
        total_ms += total
        if not repetition % 2:
            model_secs.append(model_only_seconds(auditor, clip, masks, args.fps))
    ratios = np.asarray(model_secs) / np.asarray(walls)
    wall = float(np.median(walls))
    model_s = float(np.median(model_secs))
    report = {
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "clip": {
            "size": [640, 360],
            "fps": args.fps,
            "frames": clip.frames,
            "seconds": duration,
            "candidates_per_frame": len(masks),
        },
        "backend": args.backend,
        "precision": args.precision,
        "records": records,
        "wall_seconds": round(wall, 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "real_time_factor": round(duration / wall, 3),
        "stream_fps": round(clip.frames / wall, 2),
        "model_only_fps": round(clip.frames / model_s, 2) if model_s > 0 else None,
        "stream_over_model_throughput": round(float(np.median(ratios)), 3),
        "stream_over_model_per_repetition": [round(float(r), 3) for r in ratios],
        "repetitions": args.repetitions,
        "model_only": "a second pass: the graphs alone on the same decoded, preprocessed frames",
        "target_stream_over_model": 0.8,
        "latency_ms": {
            "total_p50": round(float(np.nanpercentile(total_ms, 50)), 2),
            "total_p90": round(float(np.nanpercentile(total_ms, 90)), 2),
            "total_p99": round(float(np.nanpercentile(total_ms, 99)), 2),
            "model_p50": round(float(np.nanpercentile(model_ms, 50)), 2),
        },
        "machine": machine(),
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
