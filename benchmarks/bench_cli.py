"""Run ``maskaudit bench`` and keep its JSON and its printed table as a results pair.

Runs ``maskaudit bench <ARGS> --json benchmarks/results/<NAME>.json`` (the installed command,
in a child process, so the JSON names that very command line) and writes the table it prints
to ``benchmarks/results/<NAME>.md``, headed by the command, the machine, the versions and the
load average that the JSON records. The recorded results of this repository were made with::

    python benchmarks/bench_cli.py bench_cpu -- --backend ort-cpu --precision int8,fp32 --k 1,4,16
    python benchmarks/bench_cli.py --target "end_to_end speed-up >= 1.5" compare_int8_fp32
        -- --backend ort-cpu --compare precision=int8 precision=fp32 --k 1,4,16
        --repetitions 7   (one line)

Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

RESULTS = Path("benchmarks/results")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="results name: writes <name>.json and <name>.md")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="-- then maskaudit bench's")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--target",
        default=None,
        help="what the results are held against, e.g. 'end_to_end speed-up >= 1.5' (a stage "
        "and a bound on its median speed-up; comparison runs only); the verdict and the margin "
        "of every matching row are added to both files (give it before NAME)",
    )
    args = parser.parse_args(argv)
    if args.bench_args and args.bench_args[0] == "--":
        args.bench_args = args.bench_args[1:]
    return args


def maskaudit_command() -> list[str]:
    """The ``maskaudit`` console script, or ``python -m maskaudit`` where it is not on PATH."""
    found = shutil.which("maskaudit")
    if found is None:
        sibling = Path(sys.executable).with_name("maskaudit")
        found = str(sibling) if sibling.is_file() else None
    return [found] if found else [sys.executable, "-m", "maskaudit"]


def header(record: dict, wrapper: str) -> str:
    provenance = record["provenance"]
    machine = provenance["machine"]
    versions = provenance["versions"]
    shown = ("python", "maskaudit", "numpy", "onnxruntime", "opencv")
    return "\n".join(
        [
            f"# maskaudit bench: {record['kind']}",
            "",
            "Command (from the repository root), and the script that ran it and kept its output:",
            "",
            f"    {provenance['command']}",
            f"    {wrapper}",
            "",
            f"Machine: {machine['cpu']}, {machine['logical_cores']} logical cores "
            f"({', '.join(machine['cpu_flags']) or 'no listed SIMD flags'}), "
            f"{machine['platform']}. GPU: {provenance['gpu'] or 'none'}.",
            "Load average (1 min) at the start and the end: "
            f"{machine['load_average_1min']}, {provenance.get('load_average_1min_end')}.",
            "Versions: " + ", ".join(f"{k} {versions.get(k)}" for k in shown) + ".",
            f"Bundle: `{provenance['bundle']['path']}` (manifest sha256 "
            f"{provenance['bundle']['manifest_sha256'][:16]}...).",
            "",
        ]
    )


def check_target(record: dict, target: str) -> dict:
    """Hold every comparison row of one stage against ``'<stage> speed-up >= <bound>'``."""
    try:
        stage, _, op, bound = target.split()
        bound = float(bound)
    except ValueError:
        sys.exit(f"--target {target!r}: expected '<stage> speed-up >= <number>'")
    if op != ">=":
        sys.exit(f"--target {target!r}: only '>=' bounds are supported")
    rows = []
    for row in record.get("records", []):
        if row.get("stage") != stage:
            continue
        speedup = row["speedup"]["median"]
        rows.append(
            {
                "k": row.get("k"),
                "speedup": round(speedup, 3),
                "met": speedup >= bound,
                "margin": round(speedup - bound, 3),
            }
        )
    if not rows:
        sys.exit(f"--target {target!r}: no comparison row of stage {stage!r}")
    return {"target": target, "rows": rows, "met": all(r["met"] for r in rows)}


def target_text(verdict: dict) -> str:
    """One line per row: the target, the measured speed-up, met or missed and by how much."""
    lines = [f"Target: {verdict['target']}."]
    for row in verdict["rows"]:
        state = "met" if row["met"] else f"missed by {-row['margin']:.2f}"
        lines.append(f"- K={row['k']}: speed-up {row['speedup']:.2f}x, {state}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.out_dir / f"{args.name}.json"
    command = [*maskaudit_command(), "bench", *args.bench_args, "--json", str(json_path)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"maskaudit bench failed with exit status {done.returncode}")
    record = json.loads(json_path.read_text())
    wrapper = shlex.join(["python", "benchmarks/bench_cli.py", *sys.argv[1:]])
    text = header(record, wrapper) + "\n" + done.stdout.rstrip() + "\n"
    if args.target is not None:
        verdict = check_target(record, args.target)
        record["target"] = verdict
        json_path.write_text(json.dumps(record, indent=2) + "\n")
        text += "\n" + target_text(verdict)
    (args.out_dir / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
