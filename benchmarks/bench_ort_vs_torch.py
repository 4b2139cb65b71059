"""onnxruntime against PyTorch eager on the same trained model, one stream step, on the CPU.

The trained auditor (``--checkpoint``) runs in PyTorch eager fp32 (``torch.inference_mode()``,
``torch.set_num_threads(--threads)``, one inter-op thread), and its exported fp32 graphs
(``--bundle``) run in onnxruntime's CPU provider with the same intra-op thread count (one
inter-op thread, sequential execution, default graph optimisations). One stream step is the
frame encoder on one frame, the audio encoder on one 1-s window and the audit head with K
candidates and 10 s of context; the head's inputs are what the fp32 encoders make of random
frames and windows, as the exporter feeds it. Both frameworks get the same inputs (numpy
arrays for onnxruntime, tensors sharing their memory for PyTorch) and their outputs are
compared (largest absolute difference per graph).

After warm-up calls, each repetition times ``--iterations`` steps of one framework, then of
the other, the order flipped every repetition, so that a change of machine load touches both
alike. Each graph call is timed on its own; the step is the sum of its three calls. Reported
per graph and for the step: p50/p90 of each framework, and the ratio PyTorch / onnxruntime
(median of the per-repetition ratios of medians, with its quartiles and range). The target is
onnxruntime at least 2x PyTorch eager on the step; a miss is written with its size.

Writes ``benchmarks/results/ort_vs_torch.json``. Run from the repository root::

    python benchmarks/bench_ort_vs_torch.py
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from maskaudit.bench.stats import ratio_spread
from maskaudit.bench.step_inputs import cpu_session, step_inputs
from maskaudit.export import contract
from maskaudit.provenance import machine, versions

RESULTS = Path("benchmarks/results")
TARGET = 2.0
"""onnxruntime should be at least this many times faster than PyTorch eager on a step."""

STEP = "step"
FRAMEWORKS = ("torch", "ort")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("maskaudit/assets/default"))
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/default"))
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--k", type=int, default=1, help="candidates per frame (default 1)")
    parser.add_argument("--context", type=int, default=10, help="context seconds (default 10)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps each (default 10)")
    parser.add_argument("--repetitions", type=int, default=20, help="default 20")
    parser.add_argument(
        "--iterations", type=int, default=30, help="steps per repetition (default 30)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--note", default="", help="free text stored with the results")
    return parser.parse_args(argv)


def command_line() -> str:
    parts = ["python", "benchmarks/bench_ort_vs_torch.py", *map(shlex.quote, sys.argv[1:])]
    return " ".join(parts)


def runners(args: argparse.Namespace, manifest: dict, inputs: dict) -> dict[str, dict]:
    """``{framework: {graph: call}}``: each call runs one graph on the step's inputs."""
    import torch

    from maskaudit.export.onnx_export import graph_modules
    from maskaudit.model.evaluate import load_run

    model, _ = load_run(args.checkpoint)
    modules = graph_modules(model)
    out: dict[str, dict] = {"torch": {}, "ort": {}}
    for graph in contract.TRAINED_GRAPHS:
        tensors = tuple(
            torch.from_numpy(np.ascontiguousarray(inputs[graph][name]))
            for name in contract.INPUTS[graph]
        )
        module = modules[graph]

        def run_torch(module=module, tensors=tensors):
            with torch.inference_mode():
                return module(*tensors)

        ort_session = cpu_session(args.bundle / manifest["graphs"][graph]["fp32"], args.threads)
        feeds = inputs[graph]

        def run_ort(ort_session=ort_session, feeds=feeds):
            return ort_session.run(None, feeds)

        out["torch"][graph] = run_torch
        out["ort"][graph] = run_ort
    return out


def output_difference(calls: dict[str, dict]) -> dict[str, float]:
    """Largest absolute difference between PyTorch's and onnxruntime's outputs, per graph."""
    import torch

    out = {}
    for graph in contract.TRAINED_GRAPHS:
        theirs = calls["torch"][graph]()
        if isinstance(theirs, torch.Tensor):
            theirs = (theirs,)
        ours = calls["ort"][graph]()
        out[graph] = max(
            float(np.max(np.abs(t.numpy().astype(np.float64) - o.astype(np.float64))))
            for t, o in zip(theirs, ours, strict=True)
        )
    return out


def time_steps(calls: dict, iterations: int) -> dict[str, list[float]]:
    """Time ``iterations`` steps of one framework: ms per graph call and per step."""
    times: dict[str, list[float]] = {g: [] for g in (*contract.TRAINED_GRAPHS, STEP)}
    gc.collect()
    gc.disable()
    try:
        for _ in range(iterations):
            total = 0.0
            for graph in contract.TRAINED_GRAPHS:
                start = time.perf_counter_ns()
                calls[graph]()
                elapsed = (time.perf_counter_ns() - start) / 1e6
                times[graph].append(elapsed)
                total += elapsed
            times[STEP].append(total)
    finally:
        gc.enable()
    return times


def measure(calls: dict[str, dict], args: argparse.Namespace) -> dict[str, dict[str, list]]:
    """Per framework and graph (and step), the latencies of each repetition."""
    for framework in FRAMEWORKS:
        time_steps(calls[framework], args.warmup)
    reps: dict[str, dict[str, list]] = {
        f: {g: [] for g in (*contract.TRAINED_GRAPHS, STEP)} for f in FRAMEWORKS
    }
    for rep in range(args.repetitions):
        order = FRAMEWORKS if rep % 2 == 0 else FRAMEWORKS[::-1]
        for framework in order:
            for graph, values in time_steps(calls[framework], args.iterations).items():
                reps[framework][graph].append(values)
        print(f"repetition {rep + 1}/{args.repetitions} done", file=sys.stderr)
    return reps


def summary(reps: dict[str, dict[str, list]], graph: str) -> dict:
    row: dict = {"graph": graph}
    for framework in FRAMEWORKS:
        values = np.concatenate(reps[framework][graph])
        row[framework] = {
            "p50_ms": float(np.percentile(values, 50)),
            "p90_ms": float(np.percentile(values, 90)),
            "samples": int(values.size),
        }
    spread = ratio_spread(reps["torch"][graph], reps["ort"][graph])
    row["torch_over_ort"] = spread["latency_ratio"]
    return row


def target(step_row: dict) -> dict:
    ratio = step_row["torch_over_ort"]["median"]
    met = ratio >= TARGET
    return {
        "what": "onnxruntime at least 2x PyTorch eager on the stream step (median ratio)",
        "required_ratio": TARGET,
        "measured_ratio": ratio,
        "met": met,
        "missed_by": None if met else TARGET - ratio,
        "missed_by_fraction": None if met else (TARGET - ratio) / TARGET,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| graph | torch p50 ms | torch p90 ms | ort p50 ms | ort p90 ms | torch/ort | IQR |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row["torch_over_ort"]
        lines.append(
            f"| {row['graph']} | {row['torch']['p50_ms']:.3f} | {row['torch']['p90_ms']:.3f} | "
            f"{row['ort']['p50_ms']:.3f} | {row['ort']['p90_ms']:.3f} | {r['median']:.2f}x | "
            f"{r['q25']:.2f}-{r['q75']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    manifest = json.loads((args.bundle / "manifest.json").read_text())
    load_start = os.getloadavg()
    inputs = step_inputs(args.bundle, manifest, args.k, args.seed, args.context)
    calls = runners(args, manifest, inputs)
    differences = output_difference(calls)
    reps = measure(calls, args)
    rows = [summary(reps, g) for g in (*contract.TRAINED_GRAPHS, STEP)]
    record = {
        "benchmark": "onnxruntime CPU fp32 against PyTorch eager fp32, same model, one stream step",
        "command": command_line(),
        "bundle": str(args.bundle),
        "bundle_checkpoint": (manifest.get("model") or {}).get("checkpoint", ""),
        "checkpoint": str(args.checkpoint),
        "note": args.note,
        "settings": {
            "intra_op_threads": args.threads,
            "inter_op_threads": 1,
            "torch": "eager, torch.inference_mode(), fp32",
            "onnxruntime": "CPUExecutionProvider, sequential, default graph optimisations, fp32",
            "candidates": args.k,
            "context_seconds": args.context,
            "frames_per_encoder_run": 1,
            "warmup_steps": args.warmup,
            "repetitions": args.repetitions,
            "iterations_per_repetition": args.iterations,
            "order": "torch, ort on even repetitions; ort, torch on odd ones",
            "seed": args.seed,
        },
        "machine": machine(),
        "versions": {**versions(), "torch": torch.__version__},
        "load_average": {"start": list(load_start), "end": list(os.getloadavg())},
        "max_abs_output_difference": differences,
        "graphs": rows,
        "target": target(rows[-1]),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "ort_vs_torch.json").write_text(json.dumps(record, indent=2) + "\n")
    print(table(rows))
    print(f"max |torch - ort| per graph: {differences}")
    verdict = record["target"]
    if verdict["met"]:
        print(f"target met: onnxruntime {verdict['measured_ratio']:.2f}x PyTorch eager (>= 2x)")
    else:
        print(
            f"target missed: onnxruntime {verdict['measured_ratio']:.2f}x PyTorch eager, "
            f"{verdict['missed_by']:.2f} short of 2x"
        )


if __name__ == "__main__":
    main()
