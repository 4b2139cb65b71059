"""``maskaudit eval``: score predictions, or a baseline, with the reference protocol."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from maskaudit.data.records import Candidate
from maskaudit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


def _progress(items: Iterable[Candidate], label: str) -> Iterator[Candidate]:
    """Show a progress bar on stderr while ``items`` are consumed."""
    items = list(items)
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield from bar


def _load_candidates(data: Path, split: str, mode: str) -> list[Candidate]:
    from maskaudit.data.reader import iter_candidates

    return list(iter_candidates(data, split, mode))


def _require(candidates: list[Candidate], data: Path, split: str, mode: str) -> list[Candidate]:
    if not candidates:
        raise DataError(
            f"{data} has no {split} candidates in {mode} mode: check --data, --split and --mode"
        )
    return candidates


def _baseline_answers(name: str, data: Path, candidates: list[Candidate]) -> dict:
    """Fit baseline ``name`` on the folder's train split and answer every candidate."""
    from maskaudit.baselines import make_baseline
    from maskaudit.eval.predictions import answer_from_record, candidate_key

    model = make_baseline(name)
    train = _require(_load_candidates(data, "train", "train"), data, "train", "train")
    model.fit(train, progress=_progress)
    records = model.predict(candidates, progress=_progress)
    return {
        candidate_key(c): answer_from_record(r) for c, r in zip(candidates, records, strict=True)
    }


@click.command(name="eval")
@click.option(
    "--data",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Benchmark folder in the MQ-RAVSBench layout (real, or from `maskaudit synth`).",
)
@click.option(
    "--split",
    type=click.Choice(["test_s", "test_u"]),
    default="test_s",
    show_default=True,
    help="Test split: seen categories (test_s) or categories never seen in training (test_u).",
)
@click.option(
    "--mode",
    type=click.Choice(["image", "video"]),
    default="image",
    show_default=True,
    help="image: one key frame per expression; video: every frame, IoU averaged per uid.",
)
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON lines keyed by uid, frame, mask_id: verdict records or reference answers "
    "({'text': ...}). Candidates without a line count as unparsed. Default: none.",
)
@click.option(
    "--baseline",
    type=click.Choice(["prior", "geometry"]),
    default=None,
    help="Fit a baseline on the folder's train split and score it instead of --predictions. "
    "prior: train means and majorities; geometry: mask-shape features (reads every mask; "
    "slower). Default: none.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the numbers as JSON to this file. Default: none.",
)
@click.option(
    "--by-kind",
    is_flag=True,
    default=False,
    help="Add a table of every scored candidate broken down by expression kind. Default: off.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write an HTML report with PNG figures into this folder instead of one table: the "
    "bundle and both baselines on test_s and test_u (image mode), and a stream's latency. "
    "--split, --mode, --predictions, --baseline, --json and --by-kind do not apply. "
    "Default: none.",
)
@click.option(
    "--bundle",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report mode: the bundle to score. Default: the shipped bundle.",
)
@click.option(
    "--precision",
    type=click.Choice(["int8", "fp32"]),
    default="int8",
    show_default=True,
    help="Report mode: precision of the bundle's graphs.",
)
@click.option(
    "--backend",
    type=click.Choice(["ort-cpu", "ort-cuda", "ort-trt", "trt", "auto"]),
    default="ort-cpu",
    show_default=True,
    help="Report mode: backend of the timed stream (the splits are always scored with "
    "onnxruntime on the CPU).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Report mode: score at most N candidates per split, whole frames evenly drawn. "
    "Default: all.",
)
@click.option(
    "--baseline-fit",
    type=click.IntRange(min=1),
    default=4000,
    show_default=True,
    help="Report mode: train candidates (evenly drawn) the baselines are fitted on.",
)
@click.option(
    "--stream-seconds",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Report mode: seconds of the timed stream (a 640x360 sample clip at 25 fps, one "
    "candidate per frame); 0 skips it.",
)
def command(
    data: Path,
    split: str,
    mode: str,
    predictions: Path | None,
    baseline: str | None,
    json_out: Path | None,
    by_kind: bool,
    report_dir: Path | None,
    bundle: Path | None,
    precision: str,
    backend: str,
    limit: int | None,
    baseline_fit: int,
    stream_seconds: float,
) -> None:
    """Score an auditor on a test split with the reference protocol.

    Prints a markdown table on stdout: one row per type setting (perfect; cutout, erode and
    dilate at rank H(ard) and M(edium); merge; full_neg) and `all`, with the IoU RMSE and MAE,
    macro F2 of type and action, Spearman correlation, AUROC for detecting masks with IoU
    below 0.5, the area under the risk-coverage curve (failure risk) and micro F1 of the type.
    Give exactly one of --predictions and --baseline.

    With --report DIR, writes DIR/index.html, its PNG figures and DIR/report.json instead:
    the bundle's verdicts and both baselines on test_s and test_u, IoU calibration, type and
    action confusion, risk-coverage, and the latency of a stream. Needs the report extra
    (which brings the train extra): pip install 'maskaudit[report]'.
    """
    from maskaudit.eval.predictions import read_predictions
    from maskaudit.eval.protocol import coverage, kind_table, protocol_table
    from maskaudit.eval.report import format_markdown, table_to_json

    if report_dir is not None:
        if predictions is not None or baseline is not None or json_out is not None or by_kind:
            raise ConfigError(
                "--report scores the bundle and both baselines itself: "
                "drop --predictions, --baseline, --json and --by-kind"
            )
        _write_report(
            report_dir, data, bundle, precision, backend, limit, baseline_fit, stream_seconds
        )
        return
    if (predictions is None) == (baseline is None):
        raise ConfigError("give exactly one of --predictions FILE.jsonl and --baseline NAME")
    if not data.is_dir():
        raise DataError(f"benchmark folder {data} does not exist: pass --data DIR")

    candidates = _require(_load_candidates(data, split, mode), data, split, mode)
    if predictions is not None:
        answers = read_predictions(predictions)
    else:
        answers = _baseline_answers(baseline, data, candidates)
    matched, unmatched = coverage(candidates, answers)
    scored = sum(1 for c in candidates if c.mask_type != "null")
    if predictions is not None:
        if matched == 0:
            raise DataError(
                f"no line of {predictions} matches a {split} candidate in {mode} mode: "
                "check --split, --mode and the uid/frame/mask_id keys"
            )
        if matched < scored:
            logger.warning(
                "%d of %d candidates have no prediction: scored as unparsed",
                scored - matched,
                scored,
            )
        if unmatched:
            logger.warning(
                "%d predictions match no %s candidate in %s mode", unmatched, split, mode
            )

    table = protocol_table(candidates, answers, mode)
    source = str(predictions) if predictions is not None else f"baseline:{baseline}"
    click.echo(f"## {source} on {split}, {mode} mode\n")
    click.echo(format_markdown(table))
    result: dict[str, Any] = {
        "source": source,
        "split": split,
        "mode": mode,
        "rows": table_to_json(table),
    }
    if by_kind:
        kinds = kind_table(candidates, answers, mode)
        click.echo("\n### by expression kind (every scored candidate)\n")
        click.echo(format_markdown(kinds, first_header="expression kind"))
        result["by_kind"] = table_to_json(kinds)

    if json_out is not None:
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write --json {json_out}: {exc.strerror or exc}") from exc


def _write_report(
    out: Path,
    data: Path,
    bundle: Path | None,
    precision: str,
    backend: str,
    limit: int | None,
    baseline_fit: int,
    stream_seconds: float,
) -> None:
    """Build the report and print where it is and the `all` row of every method."""
    from maskaudit.report.build import PAGE, ReportSettings, build_report
    from maskaudit.report.stream_latency import StreamSettings

    settings = ReportSettings(
        bundle=bundle,
        precision=precision,
        backend=backend,
        limit=limit,
        baseline_fit=baseline_fit,
        stream=StreamSettings(seconds=stream_seconds),
    )
    report = build_report(
        out,
        data,
        settings,
        progress=_progress,
        stage=lambda text: click.echo(f"report: {text}", err=True),
    )
    for split, numbers in report["splits"].items():
        click.echo(f"## {split}, image mode, all {numbers['scored']} scored candidates\n")
        click.echo("| auditor | RMSE | type F2 | action F2 | AURC |")
        click.echo("|---|---|---|---|---|")
        for name, table in numbers["tables"].items():
            row = table["all"]
            cells = [_cell(row[k]) for k in ("rmse", "type_f2", "action_f2", "aurc")]
            click.echo(f"| {name} | " + " | ".join(cells) + " |")
        click.echo("")
    if report["stream"]:
        total = report["stream"]["summary"]["total"]
        click.echo(
            f"stream latency per frame: p50 {_cell(total['p50'], 2)} ms, "
            f"p90 {_cell(total['p90'], 2)} ms, p99 {_cell(total['p99'], 2)} ms"
        )
    click.echo(f"report: {out / PAGE} ({report['seconds']} s)")


def _cell(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
