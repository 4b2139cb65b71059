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
def command(
    data: Path,
    split: str,
    mode: str,
    predictions: Path | None,
    baseline: str | None,
    json_out: Path | None,
    by_kind: bool,
) -> None:
    """Score an auditor on a test split with the reference protocol.

    Prints a markdown table on stdout: one row per type setting (perfect; cutout, erode and
    dilate at rank H(ard) and M(edium); merge; full_neg) and `all`, with the IoU RMSE and MAE,
    macro F2 of type and action, Spearman correlation, AUROC for detecting masks with IoU
    below 0.5, the area under the risk-coverage curve (failure risk) and micro F1 of the type.
    Give exactly one of --predictions and --baseline.
    """
    from maskaudit.eval.predictions import read_predictions
    from maskaudit.eval.protocol import coverage, kind_table, protocol_table
    from maskaudit.eval.report import format_markdown, table_to_json

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
