"""Accuracy of a trained run on the benchmark's test splits, against the baselines.

Writes the protocol tables (test_s and test_u, image and video mode), the geometry baseline's
tables, and the modality ablations (another expression of the same scene; silence instead of
the audio) broken down by expression kind, as markdown and JSON.

Usage:
    python benchmarks/accuracy.py --run checkpoints/default --data bench-data \
        --out benchmarks/results/accuracy
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from maskaudit import __version__
from maskaudit.baselines import make_baseline
from maskaudit.data.reader import iter_candidates
from maskaudit.eval.predictions import answer_from_record, candidate_key
from maskaudit.eval.protocol import kind_table, protocol_table
from maskaudit.eval.report import format_markdown, table_to_json
from maskaudit.model.dataset import build_store
from maskaudit.model.evaluate import grounding_accuracy, predict_split

SETTINGS = (("test_s", "image"), ("test_u", "image"), ("test_s", "video"), ("test_u", "video"))


def baseline_table(data: Path, split: str, mode: str, fitted) -> dict:
    candidates = list(iter_candidates(data, split, mode))
    records = fitted.predict(candidates)
    answers = {
        candidate_key(c): answer_from_record(r) for c, r in zip(candidates, records, strict=True)
    }
    return protocol_table(candidates, answers, mode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="trained run folder")
    parser.add_argument("--data", type=Path, required=True, help="benchmark folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/accuracy"),
        help="output prefix (.md and .json are added)",
    )
    parser.add_argument(
        "--baseline-fit",
        type=int,
        default=6000,
        help="training candidates the geometry baseline is fitted on (default 6000, evenly drawn)",
    )
    parser.add_argument(
        "--settings",
        default=",".join(f"{s}/{m}" for s, m in SETTINGS),
        help="comma-separated split/mode pairs (default: test_s and test_u, image and video)",
    )
    args = parser.parse_args()

    started = time.time()
    geometry = make_baseline("geometry")
    train = list(iter_candidates(args.data, "train", "train"))
    geometry.fit(train[:: max(1, len(train) // args.baseline_fit)])
    results: dict = {"tables": {}, "baseline_geometry": {}, "by_kind": {}, "ablations": {}}
    lines = [
        "# Auditor accuracy on the synthetic benchmark",
        "",
        f"Command: `python {' '.join(sys.argv)}`  ",
        f"maskaudit {__version__}, Python {platform.python_version()}, {platform.machine()}",
        "",
    ]
    for setting in args.settings.split(","):
        split, mode = setting.strip().split("/")
        store = build_store(args.data, split, mode)
        candidates, answers, _ = predict_split(args.run, args.data, split, mode, store=store)
        table = protocol_table(candidates, answers, mode)
        key = f"{split}/{mode}"
        results["tables"][key] = table_to_json(table)
        lines += [f"## {split}, {mode} mode: maskaudit", "", format_markdown(table), ""]
        if mode == "image":
            base = baseline_table(args.data, split, mode, geometry)
            results["baseline_geometry"][key] = table_to_json(base)
            lines += [f"## {split}, {mode} mode: geometry baseline", "", format_markdown(base), ""]
            kinds = kind_table(candidates, answers, mode)
            results["by_kind"][key] = table_to_json(kinds)
            lines += [
                f"### {split}, by expression kind",
                "",
                format_markdown(kinds, first_header="kind"),
                "",
            ]
            ablation = {"none": grounding_accuracy(candidates, answers)}
            for name in ("swap_expression", "silence"):
                c2, a2, _ = predict_split(
                    args.run, args.data, split, mode, ablation=name, store=store
                )
                ablation[name] = grounding_accuracy(c2, a2)
            results["ablations"][key] = ablation
            lines += [
                f"### {split}: perfect-vs-full_neg accuracy under ablations",
                "",
                "| kind | intact | other expression | silence |",
                "|---|---|---|---|",
            ]
            for kind in ablation["none"]:
                row = [
                    ablation[n].get(kind, float("nan"))
                    for n in ("none", "swap_expression", "silence")
                ]
                lines.append(f"| {kind} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
            lines.append("")
    results["seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
