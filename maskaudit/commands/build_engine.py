"""``maskaudit build-engine``: build TensorRT engines for a bundle on this GPU."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("build-engine")
@click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    required=True,
    help="Bundle folder written by `maskaudit export`; engines go to BUNDLE/engines/.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp16", "int8", "fp32"]),
    default="fp16",
    show_default=True,
    help="fp16: from the fp32 graphs with FP16 kernels allowed. int8: explicit quantization "
    "from the <graph>.int8-trt.onnx graphs (export with --trt-variant). fp32: no reduced "
    "precision.",
)
@click.option(
    "--workspace-mb",
    type=int,
    default=2048,
    show_default=True,
    help="TensorRT builder workspace; more lets it try more tactics.",
)
@click.option(
    "--max-k",
    type=int,
    default=16,
    show_default=True,
    help="Most candidate masks per frame the audit head engine accepts (profiles tune for 4).",
)
@click.option(
    "--max-batch",
    type=int,
    default=8,
    show_default=True,
    help="Most frames per audit head run the engine accepts.",
)
@click.option(
    "--max-frames",
    type=int,
    default=11,
    show_default=True,
    help="Most frames or audio windows per encoder run (a stream uses 1; `audit` with 10 s of "
    "context up to 11).",
)
@click.option("--device", type=int, default=0, show_default=True, help="CUDA device.")
def command(
    bundle: Path,
    precision: str,
    workspace_mb: int,
    max_k: int,
    max_batch: int,
    max_frames: int,
    device: int,
) -> None:
    """Build TensorRT engines for the frame encoder, audio encoder and audit head.

    Engines are not portable: each is named for the graph, the GPU, the TensorRT version and
    the precision (e.g. audit_head.nvidia-h200.trt10.9.0.fp16.engine); a timing cache in
    BUNDLE/engines/ speeds up later builds. Needs the `tensorrt` package (JetPack on Jetson).
    The text encoder is not built: it runs once per expression, on onnxruntime.
    """
    from maskaudit.export.trt_engine import build_engines
    from maskaudit.export.trt_options import ProfileLimits

    limits = ProfileLimits(
        max_batch=max_batch, max_k=max_k, opt_k=min(4, max_k), max_frames=max_frames
    )
    builds = build_engines(bundle, precision, limits, workspace_mb, device_id=device)
    click.echo(
        json.dumps(
            [
                {
                    "graph": b.graph,
                    "engine": str(b.engine),
                    "from": b.onnx.name,
                    "seconds": round(b.seconds, 1),
                    "profile": b.profile,
                }
                for b in builds
            ],
            indent=2,
        )
    )
