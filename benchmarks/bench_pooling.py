"""Latency of mask pooling: the naive chain against the fused form, on the CPU.

Three implementations run side by side in one process, their repetitions interleaved so that a
change in machine load touches all of them alike:

- ``numpy-naive``: the numpy reference (resize, multiply, reduce per region and scale);
- ``ort-naive``: ONNX Runtime running the exported unfused PyTorch chain;
- ``ort-fused``: ONNX Runtime running the exported fused PyTorch form (one matmul per scale).

Each case is one frame (B=1) with K candidate masks at 160x160 and three feature maps (8
channels at 80x80, 32 at 40x40, 64 at 20x20). Prints a table and writes JSON records with p50
and p90 latency, the ratios against the fused form, the machine, the versions and the command
line. Run from the repository root::

    python benchmarks/bench_pooling.py --out benchmarks/results/pooling.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from maskaudit.kernels.pooling_numpy import mask_pool_numpy
from maskaudit.kernels.pooling_torch import mask_pool, mask_pool_naive_torch
from maskaudit.provenance import machine, versions

SIZE = 160
SCALES = ((8, 80), (32, 40), (64, 20))  # (channels, side) of each feature map
FEAT_NAMES = [f"feat{i}" for i in range(len(SCALES))]


class _Exported(torch.nn.Module):
    """Wraps a pooling function so that ``torch.onnx.export`` can trace it."""

    def __init__(self, pool: Callable) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, masks: torch.Tensor, *feats: torch.Tensor):
        return self.pool(masks, list(feats))


def _export(pool: Callable, path: Path) -> None:
    example = (torch.rand(1, 2, SIZE, SIZE),) + tuple(torch.randn(1, c, s, s) for c, s in SCALES)
    dynamic = {"masks": {0: "batch", 1: "candidates"}}
    dynamic.update({name: {0: "batch"} for name in FEAT_NAMES})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Exported(pool), example, str(path), input_names=["masks", *FEAT_NAMES],
            output_names=["pooled", "geometry"], dynamic_axes=dynamic, opset_version=17,
            dynamo=False,
        )  # fmt: skip


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _inputs(candidates: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    masks = np.zeros((1, candidates, SIZE, SIZE), np.float32)
    for k in range(candidates):
        cy, cx, radius = rng.uniform(20, 140), rng.uniform(20, 140), rng.uniform(5, 60)
        masks[0, k] = (ys - cy) ** 2 + (xs - cx) ** 2 < radius**2
    inputs = {"masks": masks}
    for name, (c, s) in zip(FEAT_NAMES, SCALES, strict=True):
        inputs[name] = rng.normal(size=(1, c, s, s)).astype(np.float32)
    return inputs


def _percentiles(times: list[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90))}


def _bench_case(
    candidates: int, runners: dict[str, Callable], warmup: int, repeats: int, seed: int
) -> dict:
    inputs = _inputs(candidates, np.random.default_rng(seed + candidates))
    outputs = {name: run(inputs) for name, run in runners.items()}
    reference = outputs["numpy-naive"]
    max_error = {
        name: max(float(np.abs(o - r).max()) for o, r in zip(out, reference, strict=True))
        for name, out in outputs.items()
    }

    for _ in range(warmup):
        for run in runners.values():
            run(inputs)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run(inputs)
            times[name].append(time.perf_counter() - start)

    stats = {name: _percentiles(t) for name, t in times.items()}
    fused = stats["ort-fused"]["p50_ms"]
    return {
        "B": 1,
        "K": candidates,
        "H": SIZE,
        "W": SIZE,
        "scales": [{"channels": c, "size": s} for c, s in SCALES],
        "latency": stats,
        "p50_ratio_vs_fused": {name: s["p50_ms"] / fused for name, s in stats.items()},
        "max_abs_diff_vs_numpy": max_error,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/pooling.json"),
        help="JSON file to write (default: benchmarks/results/pooling.json)",
    )  # fmt: skip
    parser.add_argument(
        "--candidates", type=int, nargs="+", default=[1, 4, 16],
        help="values of K, candidate masks per frame (default: 1 4 16)",
    )  # fmt: skip
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds (default: 3)")
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds (default: 30)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="ONNX Runtime intra-op threads; 1 keeps the comparison with numpy fair on a shared "
        "machine (default: 1)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="input seed (default: 0)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        naive_path, fused_path = Path(folder) / "naive.onnx", Path(folder) / "fused.onnx"
        _export(mask_pool_naive_torch, naive_path)
        _export(mask_pool, fused_path)
        naive, fused = _session(naive_path, args.threads), _session(fused_path, args.threads)

    runners: dict[str, Callable] = {
        "numpy-naive": lambda x: mask_pool_numpy(x["masks"], [x[n] for n in FEAT_NAMES]),
        "ort-naive": lambda x: naive.run(None, x),
        "ort-fused": lambda x: fused.run(None, x),
    }
    cases = [_bench_case(k, runners, args.warmup, args.repeats, args.seed) for k in args.candidates]

    print(
        f"{'K':>3}  "
        + "  ".join(f"{name + ' p50/p90 ms':>24}" for name in runners)
        + "  naive/fused"
    )
    for case in cases:
        cells = [f"{s['p50_ms']:>11.2f} / {s['p90_ms']:>8.2f}  " for s in case["latency"].values()]
        ratio = case["p50_ratio_vs_fused"]
        print(
            f"{case['K']:>3}  " + "".join(f"{c:>26}" for c in cells)
            + f"numpy {ratio['numpy-naive']:.1f}x, ort {ratio['ort-naive']:.1f}x"
        )  # fmt: skip

    record = {
        "benchmark": "mask pooling, naive chain vs fused form",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
            "warmup": args.warmup,
            "repeats": args.repeats,
            "ort_threads": args.threads,
            "seed": args.seed,
        },
        "machine": machine(),
        "versions": {**versions(), "torch": torch.__version__},
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
