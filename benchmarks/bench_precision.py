"""INT8 against fp32: speed of each bundle graph on the CPU, and the accuracy table.

Speed: for every trained graph of a bundle (frame encoder, audio encoder, audit head), the
fp32 and INT8 (CPU variant) files run side by side in one process through onnxruntime's CPU
provider, their repetitions interleaved (and the order flipped every repetition) so that a
change in machine load touches both alike, after warm-up runs. The intra-op thread count is
pinned (``--threads``, default 1) and recorded. Each case is one stream step: one frame, one
audio window, the head with K candidates and 10 s of context, fed with what the fp32 encoders
make of a random frame. Prints a table and writes p50/p90 latency, the INT8/fp32 ratio, the
machine, the versions and the command to ``benchmarks/results/precision_speed.json``.

Accuracy: the manifest's ``accuracy`` section (IoU RMSE, type and action F2 per precision on
test_s and test_u in image mode, measured by ``maskaudit export``), or, with ``--data``, the
same measured again on that benchmark, goes to ``benchmarks/results/precision_accuracy.json``
and ``.md``.

Run from the repository root::

    python benchmarks/bench_precision.py --bundle maskaudit/assets/default
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from maskaudit.bench.step_inputs import cpu_session, step_inputs
from maskaudit.export import contract
from maskaudit.provenance import machine, versions

RESULTS = Path("benchmarks/results")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("maskaudit/assets/default"))
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs each (default 50)")
    parser.add_argument("--k", type=int, default=4, help="candidates per frame (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data", type=Path, default=None, help="benchmark folder: measure accuracy again"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="free text stored with the results")
    return parser.parse_args(argv)


def time_pair(
    sessions: dict[str, ort.InferenceSession], inputs: dict, warmup: int, repeats: int
) -> dict[str, list[float]]:
    """Latency in ms of each session, repetitions interleaved, order flipped every time."""
    names = list(sessions)
    for _ in range(warmup):
        for name in names:
            sessions[name].run(None, inputs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            sessions[name].run(None, inputs)
            times[name].append((time.perf_counter() - start) * 1e3)
    return times


def speed(args: argparse.Namespace, manifest: dict) -> dict:
    inputs = step_inputs(args.bundle, manifest, args.k, args.seed)
    rows = []
    for graph in contract.TRAINED_GRAPHS:
        files = manifest["graphs"][graph]
        if "int8" not in files:
            print(f"{graph}: no int8 graph in the bundle; skipped", file=sys.stderr)
            continue
        sessions = {p: cpu_session(args.bundle / files[p], args.threads) for p in ("fp32", "int8")}
        times = time_pair(sessions, inputs[graph], args.warmup, args.repeats)
        row = {"graph": graph}
        for precision, values in times.items():
            row[precision] = {
                "p50_ms": float(np.percentile(values, 50)),
                "p90_ms": float(np.percentile(values, 90)),
            }
        row["int8_over_fp32_p50"] = row["int8"]["p50_ms"] / row["fp32"]["p50_ms"]
        row["int8_over_fp32_p90"] = row["int8"]["p90_ms"] / row["fp32"]["p90_ms"]
        rows.append(row)
        print(
            f"{graph:14s} fp32 p50 {row['fp32']['p50_ms']:8.3f} ms  int8 p50 "
            f"{row['int8']['p50_ms']:8.3f} ms  int8/fp32 {row['int8_over_fp32_p50']:.2f}"
        )
    return {
        "benchmark": "INT8 (CPU variant) against fp32, onnxruntime CPU, per graph",
        "command": command_line(),
        "bundle": str(args.bundle),
        "bundle_checkpoint": manifest.get("model", {}).get("checkpoint", ""),
        "note": args.note,
        "settings": {
            "intra_op_threads": args.threads,
            "inter_op_threads": 1,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "candidates": args.k,
            "frames_per_encoder_run": 1,
            "seed": args.seed,
            "interleaved": True,
        },
        "machine": machine(),
        "versions": versions(),
        "graphs": rows,
    }


def command_line() -> str:
    return " ".join(["python", "benchmarks/bench_precision.py", *map(shlex.quote, sys.argv[1:])])


def accuracy(args: argparse.Namespace, manifest: dict) -> dict | None:
    if args.data is not None:
        from maskaudit.export.accuracy import accuracy_section
        from maskaudit.model.dataset import build_store
        from maskaudit.model.text_cache import embed_expressions

        splits = {}
        for split in ("test_s", "test_u"):
            store = build_store(args.data, split, "image")
            splits[split] = (store, embed_expressions(store.expressions, args.bundle))
        precisions = tuple(
            p for p in ("fp32", "int8", "int8-trt") if p in manifest["graphs"]["audit_head"]
        )
        section = accuracy_section(args.bundle, precisions, splits)
        source = f"measured by this command on {args.data}"
    elif manifest.get("accuracy"):
        section = manifest["accuracy"]
        source = f"manifest.json of {args.bundle} (measured by maskaudit export)"
    else:
        return None
    return {"command": command_line(), "source": source, "bundle": str(args.bundle), **section}


def accuracy_markdown(record: dict) -> str:
    lines = [
        "# Accuracy per precision",
        "",
        f"Bundle `{record['bundle']}`, {record['source']}; image mode. Command:",
        "",
        f"    {record['command']}",
        "",
        f"Tolerance against fp32: IoU RMSE grows by at most "
        f"{record['tolerance']['iou_rmse_growth']}, type and action F2 fall by at most "
        f"{record['tolerance']['f2_fall']}.",
        "",
        "| split | precision | IoU RMSE | type F2 | action F2 | within tolerance |",
        "|---|---|---|---|---|---|",
    ]
    for split, table in record["splits"].items():
        for precision, scores in table["scores"].items():
            ok = table["vs_fp32"].get(precision, {}).get("within_tolerance", "-")
            lines.append(
                f"| {split} | {precision} | {fmt(scores['iou_rmse'])} | {fmt(scores['type_f2'])} "
                f"| {fmt(scores['action_f2'])} | {ok} |"
            )
    return "\n".join(lines) + "\n"


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    manifest = json.loads((args.bundle / "manifest.json").read_text())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    speed_record = speed(args, manifest)
    (args.out_dir / "precision_speed.json").write_text(json.dumps(speed_record, indent=2) + "\n")
    record = accuracy(args, manifest)
    if record is not None:
        (args.out_dir / "precision_accuracy.json").write_text(json.dumps(record, indent=2) + "\n")
        (args.out_dir / "precision_accuracy.md").write_text(accuracy_markdown(record))
    else:
        print("the bundle's manifest has no accuracy section; pass --data", file=sys.stderr)


if __name__ == "__main__":
    main()
