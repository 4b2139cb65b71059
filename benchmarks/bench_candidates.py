"""Cost of each extra candidate on a frame, end to end, as a fraction of a frame's cost.

``Auditor.audit`` of one 640x480 frame (unseen each call, so the frame and window caches never
answer, as in a stream) with K = 1 and with K = 16 candidate masks, on the onnxruntime CPU
backend, for each precision. The fraction is ``(t(K=16) - t(K=1)) / 15 / t(K=1)``: what one
more candidate adds, relative to a frame audited with one candidate. The target is at most
0.10.

Both K run in the same process and the same repetitions, their order flipped every
repetition, after warm-up calls; the fraction is computed per repetition from the medians of
that repetition, and its median, quartiles and range over repetitions are reported. The same
repetitions also time the two per-candidate parts, to show where the cost goes: preparing the
masks (``prepare_masks``: resize to the model's mask size) and the audit head, each at K = 1
and K = 16. The load average is recorded at the start and the end.

Writes ``benchmarks/results/candidates.json``. Run from the repository root::

    python benchmarks/bench_candidates.py
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np

from maskaudit.bench import BenchConfig, bench_provenance, time_calls
from maskaudit.bench.plan import END_TO_END
from maskaudit.bench.runner import load_auditor, opencv_threads, warm
from maskaudit.bench.stats import spread
from maskaudit.bench.workloads import SyntheticInputs, model_workload, preprocessing_workload
from maskaudit.runtime.bundle import load_bundle
from maskaudit.runtime.graphs import GraphSizes

RESULTS = Path("benchmarks/results")
TARGET = 0.10
"""Each extra candidate should cost at most this fraction of a frame audited with one."""

EXPRESSION = "the object making the loudest sound"
PARTS = (END_TO_END, "audit_head", "mask_resize")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=None, help="default: the shipped bundle")
    parser.add_argument("--precision", default="int8,fp32", help="default int8,fp32")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--k", type=int, default=16, help="the larger K (default 16)")
    parser.add_argument("--frame-size", default="640x480", help="WxH of the source frames")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls each (default 5)")
    parser.add_argument("--repetitions", type=int, default=15, help="default 15")
    parser.add_argument(
        "--iterations", type=int, default=30, help="calls per repetition (default 30)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="free text stored with the results")
    return parser.parse_args(argv)


def command_line() -> str:
    parts = ["python", "benchmarks/bench_candidates.py", *map(shlex.quote, sys.argv[1:])]
    return " ".join(parts)


def measure(auditor, sizes: GraphSizes, inputs: SyntheticInputs, args) -> dict:
    """Time every part at K=1 and K=args.k, interleaved; return per-repetition medians."""
    loads = {}
    for part in PARTS:
        for k in (1, args.k):
            if part == "mask_resize":
                loads[part, k] = preprocessing_workload(part, sizes, inputs, 1, k)
            else:
                loads[part, k] = model_workload(part, auditor, inputs, 1, k, EXPRESSION)
    for load in loads.values():
        warm(load, args.warmup)
    medians: dict = {key: [] for key in loads}
    keys = list(loads)
    for rep in range(args.repetitions):
        for key in keys if rep % 2 == 0 else keys[::-1]:
            medians[key].append(float(np.median(time_calls(loads[key], args.iterations))))
    return medians


def precision_record(medians: dict, k: int) -> dict:
    one = np.asarray(medians[END_TO_END, 1])
    many = np.asarray(medians[END_TO_END, k])
    fraction = (many - one) / (k - 1) / one
    parts = {}
    for part in PARTS:
        low, high = np.asarray(medians[part, 1]), np.asarray(medians[part, k])
        per_extra = (high - low) / (k - 1)
        parts[part] = {
            "k1_median_ms": float(np.median(low)),
            f"k{k}_median_ms": float(np.median(high)),
            "per_extra_candidate_ms": spread(list(per_extra)),
            "per_extra_candidate_fraction_of_frame": spread(list(per_extra / one)),
        }
    median = float(np.median(fraction))
    return {
        "fraction": spread(list(fraction)),
        "parts": parts,
        "target": {
            "what": "each extra candidate at most 10% of a frame's cost, end to end",
            "max_fraction": TARGET,
            "measured_fraction": median,
            "met": median <= TARGET,
            "margin": TARGET - median,
            "missed_by": None if median <= TARGET else median - TARGET,
        },
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    width, height = (int(v) for v in args.frame_size.lower().split("x"))
    bundle = load_bundle(args.bundle)
    provenance = bench_provenance(bundle, command_line())
    load_start = os.getloadavg()
    sizes = GraphSizes.from_bundle(bundle)
    inputs = SyntheticInputs((width, height), 1, args.k, args.seed)
    results = {}
    for precision in args.precision.split(","):
        config = BenchConfig("ort-cpu", precision, args.threads)
        auditor = load_auditor(bundle, config)
        with opencv_threads(args.threads):
            medians = measure(auditor, sizes, inputs, args)
        results[precision] = precision_record(medians, args.k)
        print(f"{precision}: done", file=sys.stderr)
    record = {
        "benchmark": "cost of each extra candidate on a frame, end to end (Auditor.audit)",
        "formula": f"(t(K={args.k}) - t(K=1)) / {args.k - 1} / t(K=1), per repetition",
        "command": provenance["command"],
        "note": args.note,
        "settings": {
            "backend": "ort-cpu",
            "intra_op_threads": args.threads,
            "inter_op_threads": 1,
            "opencv_threads": args.threads,
            "k": [1, args.k],
            "frame_size": [width, height],
            "warmup": args.warmup,
            "repetitions": args.repetitions,
            "iterations_per_repetition": args.iterations,
            "order": "all parts in one order on even repetitions, reversed on odd ones",
            "seed": args.seed,
        },
        "machine": provenance["machine"],
        "versions": provenance["versions"],
        "bundle": provenance["bundle"],
        "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
        "precisions": results,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "candidates.json").write_text(json.dumps(record, indent=2) + "\n")
    columns = ("precision", "part", "K=1 ms", f"K={args.k} ms", "per extra ms", "of a frame")
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|")
    for precision, result in results.items():
        for part, values in result["parts"].items():
            frac = values["per_extra_candidate_fraction_of_frame"]
            print(
                f"| {precision} | {part} | {values['k1_median_ms']:.2f} | "
                f"{values[f'k{args.k}_median_ms']:.2f} | "
                f"{values['per_extra_candidate_ms']['median']:.3f} | {frac['median']:.3f} "
                f"({frac['q25']:.3f}-{frac['q75']:.3f}) |"
            )
    for precision, result in results.items():
        target = result["target"]
        state = "met" if target["met"] else f"missed by {target['missed_by']:.3f}"
        print(
            f"{precision}: each extra candidate costs {target['measured_fraction']:.3f} of a "
            f"frame (target <= {TARGET}: {state}, margin {target['margin']:+.3f})"
        )


if __name__ == "__main__":
    main()
