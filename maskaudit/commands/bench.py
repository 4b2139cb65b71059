"""``maskaudit bench``: latency and throughput of a bundle, stage by stage and end to end."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from maskaudit.errors import ConfigError

logger = logging.getLogger(__name__)

STAGE_HELP = (
    "frame_resize, mask_resize, log_mel (preprocessing: numpy and OpenCV), frame_encoder, "
    "audio_encoder, text_encoder, audit_head (one graph call each) and end_to_end "
    "(Auditor.audit of one frame with K candidates)"
)


def _open_json(path: Path | None) -> None:
    """Fail before a long run when the JSON file cannot be written."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write --json {path}: {exc.strerror or exc}") from exc


def _write_json(path: Path, data: dict) -> None:
    """Write the results."""
    try:
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write --json {path}: {exc.strerror or exc}") from exc


@click.command(name="bench")
@click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="Bundle folder made by `maskaudit export`. Default: the shipped bundle.",
)
@click.option(
    "--backend",
    "backends",
    default="available",
    show_default=True,
    help="Backends, comma-separated: ort-cpu, ort-cuda, ort-trt, trt, auto (the one the "
    "runtime would pick) or available (every one of them that loads here; the others are "
    "listed as skipped). A named backend that cannot run here is an error.",
)
@click.option(
    "--precision",
    "precisions",
    default="int8,fp32",
    show_default=True,
    help="Precisions, comma-separated: int8 (QDQ graphs), fp32.",
)
@click.option(
    "--threads",
    "threads",
    default="1",
    show_default=True,
    help="Intra-op threads per graph (and OpenCV threads), comma-separated to sweep, e.g. "
    "1,2,4. Inter-op threads are always 1. One thread gives the steadiest numbers on a shared "
    "machine; more threads cut latency on an idle one.",
)
@click.option(
    "--k",
    "ks",
    default="1,4,16",
    show_default=True,
    help="Candidate masks per frame, comma-separated (head, mask resize and end to end).",
)
@click.option(
    "--batch",
    "batches",
    default="1",
    show_default=True,
    help="Frames (or windows) per encoder, head and preprocessing call, comma-separated. The "
    "text encoder and end_to_end always take one at a time.",
)
@click.option(
    "--stages",
    default="all",
    show_default=True,
    help=f"Stages, comma-separated, or all: {STAGE_HELP}.",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Untimed calls before each measurement: they fill caches and let onnxruntime settle, "
    "so the first timed calls are not outliers.",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Timed calls per measurement (per repetition with --compare). p99 needs a few "
    "hundred to mean much; more iterations cost proportionally more time.",
)
@click.option(
    "--frame-size",
    default="640x480",
    show_default=True,
    help="WIDTHxHEIGHT of the synthetic source frames and masks before they are resized to "
    "the bundle's input size (preprocessing cost grows with it).",
)
@click.option(
    "--compare",
    nargs=2,
    default=None,
    metavar="A B",
    help="Compare two configurations instead of measuring the grid: each is KEY=VALUE pairs "
    "(keys backend, precision, threads, comma-separated) on top of the first --backend "
    "(auto where that is available), --precision and --threads; e.g. --compare "
    "precision=int8 precision=fp32. Both run interleaved in this process, order alternating "
    "each repetition; the speed-up of A over B is the median over repetitions of B's median "
    "latency / A's, with its interquartile range.",
)
@click.option(
    "--repetitions",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Repetitions of --iterations calls per side with --compare.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the inputs.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the records and their provenance (machine, GPU, versions, bundle hash, "
    "command line) as JSON to this file. Default: none.",
)
def command(
    bundle: Path | None,
    backends: str,
    precisions: str,
    threads: str,
    ks: str,
    batches: str,
    stages: str,
    warmup: int,
    iterations: int,
    frame_size: str,
    compare: tuple[str, str] | None,
    repetitions: int,
    seed: int,
    json_out: Path | None,
) -> None:
    """Measure latency and throughput of a bundle per backend, precision, threads, K and batch.

    Each stage is timed on synthetic inputs after --warmup untimed calls: p50, p90, p95, p99,
    mean and throughput, with the parameters and MACs the bundle's manifest states. A markdown
    table goes to stdout, progress to stderr, and --json keeps every record with its
    provenance. Preprocessing stages do not depend on the backend or precision and are timed
    once per thread count.

    With --compare A B, the two configurations run interleaved in one process, so that a
    change of machine load cannot fake a speed-up; the table gives the speed-up of A over B
    and its spread over --repetitions.
    """
    from maskaudit.bench import (
        AVAILABLE,
        STAGES,
        BenchConfig,
        BenchPlan,
        comparison_table,
        latency_table,
        parse_config,
        parse_ints,
        parse_names,
        parse_size,
        run_bench,
        run_comparison,
    )

    stage_names = parse_names(stages, "--stages")
    plan = BenchPlan(
        bundle=bundle,
        backends=parse_names(backends, "--backend"),
        precisions=parse_names(precisions, "--precision"),
        threads=parse_ints(threads, "--threads"),
        ks=parse_ints(ks, "--k"),
        batches=parse_ints(batches, "--batch"),
        stages=STAGES if stage_names == ("all",) else stage_names,
        warmup=warmup,
        iterations=iterations,
        frame_size=parse_size(frame_size),
        seed=seed,
    )
    _open_json(json_out)

    def progress(line: str) -> None:
        click.echo(f"bench: {line}", err=True)

    if compare is not None:
        first = plan.backends[0]
        base = BenchConfig(
            "auto" if first == AVAILABLE else first, plan.precisions[0], plan.threads[0]
        )
        a, b = (parse_config(side, base) for side in compare)
        result = run_comparison(plan, a, b, repetitions, progress)
        click.echo(f"A = {a.label()}, B = {b.label()}; speed-up = B's latency / A's\n")
        click.echo(comparison_table(result.records))
    else:
        result = run_bench(plan, progress)
        click.echo(latency_table(result.records))
    for skipped in result.skipped:
        click.echo(f"skipped {skipped['what']}: {skipped['reason']}", err=True)
    if json_out is not None:
        _write_json(json_out, result.to_dict())
        click.echo(f"bench: wrote {json_out}", err=True)
