"""Soak: stream at least 20,000 frames with several candidates; memory flat, latency steady.

Renders the demo's scene looped to the requested length, streams it from the video file through
the runtime with every verdict written to a JSON-lines file, samples resident memory, and writes
``benchmarks/results/soak.json`` with the checks (nothing lost, no error record, memory growth
after warm-up under 50 MB, last/first segment p50 latency at most 1.25), the machine, the
versions and the command.

Usage (from the repository root):
    python benchmarks/soak.py --frames 20000 --candidates 4
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from maskaudit.bench.soak import run_soak
from maskaudit.provenance import machine, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000, help="frames (default 20000)")
    parser.add_argument("--candidates", type=int, default=4, help="masks per frame (default 4)")
    parser.add_argument("--width", type=int, default=320, help="video width (default 320)")
    parser.add_argument("--height", type=int, default=180, help="video height (default 180)")
    parser.add_argument("--bundle", type=Path, default=None, help="bundle (default: shipped)")
    parser.add_argument("--backend", default="ort-cpu", help="backend (default ort-cpu)")
    parser.add_argument("--precision", default="int8", help="precision (default int8)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads per graph")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up frames (default 500)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()

    def progress(done: int, mb: float) -> None:
        if done % 1000 == 0:
            print(f"{done}/{args.frames} frames, {mb:.1f} MB resident", file=sys.stderr)

    result = run_soak(
        args.frames,
        candidates=args.candidates,
        size=(args.width, args.height),
        bundle=args.bundle,
        backend=args.backend,
        precision=args.precision,
        threads=args.threads,
        warmup_frames=args.warmup,
        progress=progress,
    )
    report = {
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "backend": args.backend,
        "precision": args.precision,
        **result.to_dict(),
        "machine": machine(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: report[k] for k in ("frames", "records", "lost", "errors", "wall_seconds")}
    print(json.dumps({**summary, "rss_growth_mb": result.rss_growth_mb, "drift": result.drift}))
    print(json.dumps(report["checks"]))
    if not all(report["checks"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
