"""Gather a bundle's scores, the baselines' and a stream's latency, and write the report folder.

The folder gets ``index.html`` (see :mod:`maskaudit.report.page`), one PNG per figure (see
:mod:`maskaudit.report.figures`) and ``report.json`` with the numbers behind the page.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maskaudit.data.records import Candidate
from maskaudit.errors import ConfigError, DataError
from maskaudit.eval.answer import Answer
from maskaudit.eval.predictions import PredictionKey, answer_from_record, candidate_key
from maskaudit.report.numbers import even_indices
from maskaudit.report.scoring import Progress, quiet
from maskaudit.report.stream_latency import StreamSettings

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("test_s", "test_u")
"""The test splits the report scores (image mode)."""

BASELINES: tuple[str, ...] = ("prior", "geometry")
"""The baselines scored beside the bundle."""

PAGE = "index.html"
"""File name of the report page."""

NUMBERS = "report.json"
"""File name of the numbers behind the page."""

DEFAULT_BASELINE_FIT = 4000
"""Train candidates the baselines are fitted on by default (evenly drawn)."""

Stage = Callable[[str], None]
"""Told the name of each stage as it starts (one line per stage)."""


@dataclass(frozen=True)
class ReportSettings:
    """What a report measures.

    Attributes:
        bundle: The bundle folder. Defaults to None: the shipped bundle.
        precision: ``int8`` or ``fp32``. Defaults to ``int8``.
        backend: Backend of the timed stream. Defaults to ``ort-cpu`` (the splits are always
            scored with onnxruntime on the CPU).
        limit: Most candidates scored per split (an even draw of whole items). Defaults to
            None: all.
        baseline_fit: Train candidates the baselines are fitted on (an even draw). Defaults to
            ``DEFAULT_BASELINE_FIT`` (4000).
        stream: The timed stream. Defaults to ``StreamSettings()`` (10 s at 25 fps, 640x360,
            one candidate per frame).
        splits: Test splits to score. Defaults to ``SPLITS`` (test_s and test_u).
    """

    bundle: Path | None = None
    precision: str = "int8"
    backend: str = "ort-cpu"
    limit: int | None = None
    baseline_fit: int = DEFAULT_BASELINE_FIT
    stream: StreamSettings = field(default_factory=StreamSettings)
    splits: tuple[str, ...] = SPLITS


def require_extras() -> None:
    """Check that the report's optional dependencies import.

    Raises:
        ConfigError: If matplotlib (``report`` extra) or PyTorch (``train`` extra) is missing,
            naming the extra to install.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"the report draws its figures with matplotlib, which does not import ({exc}): "
            "pip install 'maskaudit[report]'"
        ) from exc
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"the report batches the benchmark with PyTorch, which does not import ({exc}): "
            "pip install 'maskaudit[train]'"
        ) from exc


def prepare_folder(out: Path) -> Path:
    """Create the report folder and check that it can be written.

    Args:
        out: The folder.

    Returns:
        ``out``.

    Raises:
        ConfigError: If the folder cannot be created or written.
    """
    probe = out / ".maskaudit-write-test"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report folder {out}: {exc.strerror or exc}: "
            "pass --report a folder you can write"
        ) from exc
    return out


def check_data(data: Path, splits: Sequence[str]) -> list[str]:
    """Check the benchmark folder; return the splits it holds in image mode.

    Args:
        data: The benchmark folder.
        splits: The splits asked for.

    Returns:
        The splits that exist (a missing one is skipped with a warning).

    Raises:
        DataError: If the folder, its train split or every test split is missing.
    """
    from maskaudit.data.reader import benchmark_file

    if not data.is_dir():
        raise DataError(f"benchmark folder {data} does not exist: pass --data DIR")
    if not benchmark_file(data, "train", "train").is_file():
        raise DataError(
            f"{data} has no train split ({benchmark_file(data, 'train', 'train').name}), which "
            "the baselines are fitted on: pass --data a whole benchmark folder"
        )
    present = [s for s in splits if benchmark_file(data, s, "image").is_file()]
    for split in splits:
        if split not in present:
            logger.warning("%s has no %s split in image mode: not in the report", data, split)
    if not present:
        raise DataError(
            f"{data} has none of the test splits {', '.join(splits)} in image mode: "
            "pass --data a benchmark folder (e.g. from `maskaudit synth`)"
        )
    return present


def fit_baselines(
    data: Path, fit: int, progress: Progress = quiet
) -> tuple[dict[str, Any], int, int]:
    """Fit every baseline on an even draw of the train split's candidates.

    Args:
        data: The benchmark folder.
        fit: Train candidates to draw.
        progress: Progress wrapper. Defaults to ``quiet``.

    Returns:
        (baseline name to fitted baseline, candidates drawn, candidates of the train split).
    """
    from maskaudit.baselines import make_baseline
    from maskaudit.data.reader import iter_candidates

    train = list(iter_candidates(data, "train", "train"))
    drawn = [train[i] for i in even_indices(len(train), fit)]
    fitted = {}
    for name in BASELINES:
        fitted[name] = make_baseline(name).fit(drawn, progress=progress)
    return fitted, len(drawn), len(train)


def baseline_answers(
    baseline: Any, candidates: Sequence[Candidate], progress: Progress = quiet
) -> dict[PredictionKey, Answer]:
    """Answer every candidate with a fitted baseline.

    Args:
        baseline: A fitted baseline.
        candidates: The candidates.
        progress: Progress wrapper. Defaults to ``quiet``.

    Returns:
        The answer of each candidate by prediction key.
    """
    records = baseline.predict(list(candidates), progress=progress)
    return {
        candidate_key(c): answer_from_record(r) for c, r in zip(candidates, records, strict=True)
    }


def split_numbers(
    candidates: Sequence[Candidate],
    answers: Mapping[str, Mapping[PredictionKey, Answer]],
) -> dict[str, Any]:
    """The protocol tables and the figures' numbers of one split.

    Args:
        candidates: Every candidate of the split that was audited (``null`` ones included).
        answers: Method name to its answers; must hold ``maskaudit``.

    Returns:
        ``tables`` (method to protocol table as JSON), ``scored``, ``candidates``,
        ``reliability`` (maskaudit's bins), ``confusion`` (``type`` and ``action``: ``rows``,
        ``columns``, ``counts``), ``aurc`` (method to AURC, and ``oracle``) and ``iou``
        (``true`` and each method's predicted IoU of the scored candidates, for the figures).
    """
    from maskaudit.eval.protocol import protocol_table
    from maskaudit.eval.report import table_to_json
    from maskaudit.labels import ACTIONS, MASK_TYPES
    from maskaudit.report.numbers import confusion_counts, reliability_bins, risk_coverage

    scored = [c for c in candidates if c.mask_type != "null"]
    tables = {
        name: table_to_json(protocol_table(candidates, given, "image"))
        for name, given in answers.items()
    }
    true_iou = [c.iou for c in scored]
    predicted = {
        name: [_filled(given.get(candidate_key(c))) for c in scored]
        for name, given in answers.items()
    }
    ours = [answers["maskaudit"].get(candidate_key(c)) for c in scored]
    confusion = {}
    for kind, labels, true, pred in (
        ("type", MASK_TYPES, [c.mask_type for c in scored], [a and a.mask_type for a in ours]),
        ("action", ACTIONS, [c.action for c in scored], [a and a.action for a in ours]),
    ):
        counts, columns = confusion_counts(true, pred, labels)
        confusion[kind] = {"rows": list(labels), "columns": columns, "counts": counts.tolist()}
    _, oracle = risk_coverage(true_iou, true_iou)
    aurc = {name: tables[name]["all"]["aurc"] for name in answers}
    aurc["oracle"] = float(oracle.mean()) if len(oracle) else None
    return {
        "candidates": len(candidates),
        "scored": len(scored),
        "tables": tables,
        "reliability": [asdict(b) for b in reliability_bins(predicted["maskaudit"], true_iou)],
        "confusion": confusion,
        "aurc": aurc,
        "iou": {"true": true_iou, "predicted": predicted},
    }


def _filled(answer: Answer | None) -> float:
    """A predicted IoU as the protocol counts it: 0 where there is none."""
    return 0.0 if answer is None or answer.iou is None else float(answer.iou)


def draw_figures(out: Path, splits: Mapping[str, Any], stream: Mapping[str, Any] | None) -> dict:
    """Draw every figure into ``out``.

    Args:
        out: The report folder.
        splits: Split name to ``split_numbers`` of it.
        stream: ``stream_latency.time_stream``'s result, or None.

    Returns:
        Split name (and ``stream``) to {figure key: PNG file name}.
    """
    import numpy as np

    from maskaudit.report import figures
    from maskaudit.report.numbers import ReliabilityBin

    drawn: dict[str, dict[str, str]] = {}
    for name, numbers in splits.items():
        if not numbers["scored"]:
            continue
        files = {
            key: f"{key}_{name}.png"
            for key in ("iou_scatter", "type_confusion", "action_confusion", "risk_coverage")
        }
        iou = numbers["iou"]
        figures.iou_scatter(
            iou["predicted"]["maskaudit"],
            iou["true"],
            [ReliabilityBin(**b) for b in numbers["reliability"]],
            out / files["iou_scatter"],
            f"maskaudit on {name}: predicted vs true IoU ({numbers['scored']} masks)",
        )
        for kind in ("type", "action"):
            matrix = numbers["confusion"][kind]
            figures.confusion_matrix(
                np.asarray(matrix["counts"]),
                matrix["rows"],
                matrix["columns"],
                out / files[f"{kind}_confusion"],
                f"maskaudit on {name}: {kind}",
            )
        figures.risk_coverage_curves(
            iou["predicted"],
            iou["true"],
            {k: math.nan if v is None else v for k, v in numbers["aurc"].items()},
            out / files["risk_coverage"],
            f"risk-coverage on {name}",
        )
        drawn[name] = files
    if stream and stream["frames"]:
        figures.latency_histogram(
            stream["latency_ms"],
            {k: v for k, v in stream["summary"]["total"].items() if k.startswith("p")},
            out / "latency.png",
            f"stream latency per frame ({stream['backend']}, {stream['precision']})",
        )
        drawn["stream"] = {"latency": "latency.png"}
    return drawn


def json_safe(value: Any) -> Any:
    """Return ``value`` with every non-finite float replaced by None (recursively).

    Args:
        value: Nested dicts, lists, tuples and scalars.

    Returns:
        The same structure, valid strict JSON.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def build_report(
    out: Path,
    data: Path,
    settings: ReportSettings | None = None,
    progress: Progress | None = None,
    stage: Stage | None = None,
) -> dict[str, Any]:
    """Score a bundle and the baselines on a benchmark, time a stream, and write the report.

    Args:
        out: The report folder (created).
        data: The benchmark folder (MQ-RAVSBench layout).
        settings: What to measure. Defaults to None: ``ReportSettings()``.
        progress: Wraps long iterations to show progress (``progress(items, label)``); also
            turns on ``build_store``'s progress bar. Defaults to None: silent.
        stage: Told each stage's name as it starts. Defaults to None: logged at INFO.

    Returns:
        The numbers written to ``report.json``.

    Raises:
        ConfigError: If an extra is missing or the folder cannot be written.
        DataError: If the benchmark folder or its splits are missing.
        BundleError: If the bundle is missing, damaged or lacks the precision.
    """
    from maskaudit.provenance import machine, versions
    from maskaudit.report.page import render_page
    from maskaudit.report.scoring import bundle_verdicts, check_precision, read_split
    from maskaudit.runtime.bundle import load_bundle

    settings = settings or ReportSettings()
    tell = stage or (lambda text: logger.info("%s", text))
    wrap = progress or quiet
    started = time.perf_counter()

    require_extras()
    present = check_data(data, settings.splits)
    prepare_folder(out)
    bundle = load_bundle(settings.bundle)
    check_precision(bundle, settings.precision)

    tell(f"fitting the baselines on {settings.baseline_fit} train candidates")
    fitted, fit_count, train_count = fit_baselines(data, settings.baseline_fit, wrap)
    splits: dict[str, Any] = {}
    for split in present:
        tell(f"reading {split}")
        store, available = read_split(data, split, settings.limit, progress=progress is not None)
        if not store.items:
            logger.warning(
                "--limit %s keeps no whole frame of %s: raise --limit", settings.limit, split
            )
        tell(f"scoring {split}: {sum(len(i.candidates) for i in store.items)} candidates")
        ours = bundle_verdicts(bundle, settings.precision, store, split, available, wrap)
        answers = {"maskaudit": ours.answers}
        for name, baseline in fitted.items():
            answers[name] = baseline_answers(baseline, ours.candidates, wrap)
        splits[split] = split_numbers(ours.candidates, answers)
        splits[split]["available"] = available

    stream = None
    if settings.stream.frames:
        from maskaudit.report.stream_latency import time_stream
        from maskaudit.runtime.auditor import Auditor

        tell(f"timing a {settings.stream.seconds:g}-s stream on {settings.backend}")
        auditor = Auditor.load(bundle, backend=settings.backend, precision=settings.precision)
        stream = time_stream(auditor, settings.stream)

    tell(f"drawing the figures into {out}")
    figure_files = draw_figures(out, splits, stream)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bundle": {
            "id": bundle.id,
            "precision": settings.precision,
            "scoring_backend": "onnxruntime CPU",
        },
        "data": data.name or data.resolve().name,
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "limit": settings.limit,
            "baseline_fit": settings.baseline_fit,
            "stream": asdict(settings.stream),
        },
        "baselines": {"fit_candidates": fit_count, "train_candidates": train_count},
        "splits": {
            name: {k: v for k, v in numbers.items() if k != "iou"}
            for name, numbers in splits.items()
        },
        "stream": stream,
        "figures": figure_files,
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    report = json_safe(report)
    try:
        (out / NUMBERS).write_text(
            json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8"
        )
        (out / PAGE).write_text(render_page(report), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
    logger.info("report written to %s in %.1f s", out, report["seconds"])
    return report
