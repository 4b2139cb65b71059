"""Operations per verdict: maskaudit's graphs counted, the reference auditor's architecture.

maskaudit's multiply-accumulates (MACs) are counted node by node on the bundle's exported
ONNX graphs (:mod:`maskaudit.bench.graph_ops`: Conv, MatMul, Gemm, Einsum and their INT8
forms, shapes from ONNX shape inference) for one stream step: the frame encoder on one frame,
the audio encoder on one 1-s window, the audit head with K candidates and 10 s of context.
The count is cross-checked against the PyTorch model's (``maskaudit.export.complexity``, with
torch's flop counter) when the checkpoint and torch are here, and against the counts the
bundle's manifest recorded at export.

The reference auditor's MACs per verdict are counted from its published architecture
(:mod:`maskaudit.bench.reference_cost`: 13 CLIP ViT-L/14 passes, 10 BEATs windows, a
LLaMA-2-7B prefill of 800 positions and 256 decoded tokens), and the ratio is taken for a
stream with one candidate per frame, with 16 candidates per frame, and for a cold clip with
nothing cached. Writes ``benchmarks/results/reference_cost.json`` and ``.md``.

Run from the repository root::

    python benchmarks/reference_cost.py
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from maskaudit.bench.graph_ops import bundle_macs
from maskaudit.bench.reference_cost import (
    constants,
    cost_ratios,
    maskaudit_verdict_macs,
    reference_auditor_macs,
)
from maskaudit.provenance import machine, versions

RESULTS = Path("benchmarks/results")
CHECKED = ("frame_encoder", "audio_encoder", "audit_head_1", "per_frame", "per_extra_candidate")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("maskaudit/assets/default"))
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("checkpoints/default"),
        help="run folder for the PyTorch cross-check (skipped when missing or without torch)",
    )
    parser.add_argument("--context", type=int, default=10, help="context seconds (default 10)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def command_line() -> str:
    return " ".join(["python", "benchmarks/reference_cost.py", *map(shlex.quote, sys.argv[1:])])


def torch_counts(checkpoint: Path, context: int) -> dict | None:
    """complexity.py's count of the PyTorch model, or None where it cannot run here."""
    if not (checkpoint / "config.json").is_file():
        print(f"no checkpoint at {checkpoint}: PyTorch cross-check skipped", file=sys.stderr)
        return None
    try:
        from maskaudit.export.complexity import mac_counts
        from maskaudit.model.evaluate import load_run
    except ImportError as err:
        print(f"PyTorch cross-check skipped ({err})", file=sys.stderr)
        return None
    model, _ = load_run(checkpoint)
    return mac_counts(model, context=context)


def counter_versions() -> dict:
    """maskaudit.provenance's versions, plus onnx (the counter) and torch (the cross-check)."""
    out = versions()
    for package in ("onnx", "torch"):
        try:
            out[package] = __import__(package).__version__
        except ImportError:
            out[package] = None
    return out


def agreement(graph: dict, other: dict | None) -> dict | None:
    """Relative difference (graph - other) / other of each checked count."""
    if not other:
        return None
    return {
        key: (graph[key] - other[key]) / other[key]
        for key in CHECKED
        if other.get(key) and graph.get(key) is not None
    }


def build(args: argparse.Namespace) -> dict:
    manifest = json.loads((args.bundle / "manifest.json").read_text())
    counts = {p: bundle_macs(args.bundle, p, context=args.context) for p in ("fp32", "int8")}
    graph = counts["fp32"]
    recorded = (manifest.get("model") or {}).get("macs")
    live = torch_counts(args.checkpoint, args.context)
    reference = reference_auditor_macs()
    verdicts = maskaudit_verdict_macs(graph, context=args.context)
    return {
        "benchmark": "MACs per verdict: maskaudit (counted on its ONNX graphs) against the "
        "reference auditor (counted from its published architecture)",
        "command": command_line(),
        "bundle": str(args.bundle),
        "bundle_checkpoint": (manifest.get("model") or {}).get("checkpoint", ""),
        "conventions": (
            "MAC = one multiply-accumulate; FLOPs ~ 2 x MACs. Counted: convolutions, matrix "
            "products, einsums and attention's two products; not counted: normalisation, "
            "activations, softmax, pooling, element-wise arithmetic, biases. The reference's "
            "count is a lower bound (causal attention without masked scores, LM head on the "
            "last prefill position only, Q-Former adapters left out)."
        ),
        "machine": machine(),
        "versions": counter_versions(),
        "maskaudit": {
            "graph_count": counts,
            "torch_count": live,
            "manifest_count": recorded,
            "graph_vs_torch": agreement(graph, live),
            "graph_vs_manifest": agreement(graph, recorded),
            "per_verdict": verdicts,
            "per_extra_candidate_fraction_of_frame": graph["per_extra_candidate"]
            / graph["per_frame"],
        },
        "reference": {"per_verdict": reference, "constants": constants()},
        "ratio_reference_over_maskaudit": cost_ratios(reference["total"], verdicts),
    }


def count(value: float | None) -> str:
    """A MAC count with its SI prefix."""
    if value is None:
        return "n/a"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {prefix}"
    return f"{value:.0f} "


def markdown(record: dict) -> str:
    ours = record["maskaudit"]
    graph = ours["graph_count"]["fp32"]
    ref = record["reference"]["per_verdict"]
    lines = [
        "# Operations per verdict: maskaudit against the reference auditor",
        "",
        "Command (from the repository root):",
        "",
        f"    {record['command']}",
        "",
        f"Machine: {record['machine']['cpu']}, {record['machine']['platform']} (counts do not "
        "depend on it). Versions: "
        + ", ".join(f"{k} {v}" for k, v in record["versions"].items())
        + ".",
        "",
        record["conventions"],
        "",
        "## maskaudit, counted on the exported graphs",
        "",
        f"Bundle `{record['bundle']}`, one frame, one 1-s window, the head with "
        f"{graph['context_seconds']} s of context. The INT8 graphs count the same.",
        "",
        "| part | graph count (MACs) | PyTorch count (complexity.py) | difference |",
        "|---|---|---|---|",
    ]
    live = ours["torch_count"] or {}
    diff = ours["graph_vs_torch"] or {}
    for key in CHECKED:
        other = live.get(key)
        change = f"{100 * diff[key]:+.2f}%" if key in diff else "n/a"
        lines.append(f"| {key} | {count(graph[key])}MAC | {count(other)}MAC | {change} |")
    lines += [
        f"| text_encoder ({graph['text_tokens']} tokens, once per expression) | "
        f"{count(graph['text_encoder'])}MAC | - | - |",
        "",
        f"Each extra candidate costs {100 * ours['per_extra_candidate_fraction_of_frame']:.2f}% "
        "of a frame's MACs.",
        "",
        "## The reference auditor, counted from its architecture",
        "",
        "| part | count | MACs |",
        "|---|---|---|",
        f"| CLIP ViT-L/14 at 224 px ({ref['clip']['tokens']} tokens) | "
        f"{ref['clip']['passes']} x {count(ref['clip']['per_pass'])}MAC | "
        f"{count(ref['clip']['all_passes'])}MAC |",
        f"| BEATs, 1-s window ({ref['beats']['filterbank_frames']} frames x 128 mel bins, "
        f"16 x 16 patches: {ref['beats']['tokens']} tokens) | {ref['beats']['windows']} x "
        f"{count(ref['beats']['per_window'])}MAC | {count(ref['beats']['all_windows'])}MAC |",
        f"| LLaMA-2-7B prefill, {ref['prefill']['positions']} positions | 1 | "
        f"{count(ref['prefill']['total'])}MAC |",
        f"| LLaMA-2-7B decode, {ref['decode']['tokens']} tokens ({ref['decode']['passes']} "
        f"one-token passes, KV cache) | 1 | {count(ref['decode']['total'])}MAC |",
        f"| **total per verdict** | | **{count(ref['total'])}MAC** "
        f"(~{count(ref['flops_approx'])}FLOP) |",
        "",
        "## Ratio",
        "",
        "| maskaudit situation | maskaudit MACs per verdict | reference / maskaudit |",
        "|---|---|---|",
    ]
    for name, value in ours["per_verdict"].items():
        if name == "per_extra_candidate":
            continue
        ratio = record["ratio_reference_over_maskaudit"][name]
        lines.append(f"| {name}: {value['what']} | {count(value['macs'])}MAC | {ratio:,.0f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    record = build(args)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "reference_cost.json").write_text(json.dumps(record, indent=2) + "\n")
    text = markdown(record)
    (args.out_dir / "reference_cost.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
