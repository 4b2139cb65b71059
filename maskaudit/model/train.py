"""The training loop: a fixed seed, a time budget, checkpoints and resume."""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from maskaudit.model.auditor import AuditorModel
from maskaudit.model.batch import MODEL_INPUTS, make_batch
from maskaudit.model.categories import NO_CATEGORY, category_names
from maskaudit.model.category_loss import CategoryPrototypes
from maskaudit.model.config import RunConfig
from maskaudit.model.dataset import ClipStore, Item
from maskaudit.model.decoys import Decoys
from maskaudit.model.losses import audit_losses
from maskaudit.model.predict import predict_store, summarise

logger = logging.getLogger(__name__)

CHECKPOINT = "last.pt"
"""File name of the resumable checkpoint (model, optimiser, step, random states)."""

WEIGHTS = "model.pt"
"""File name of the final weights, with the configuration beside them as ``config.json``."""


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def learning_rate(step: int, total: int, peak: float, warmup: int = 100) -> float:
    """Linear warm-up then cosine decay to 5% of ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def save_checkpoint(
    path: Path,
    model: AuditorModel,
    prototypes: CategoryPrototypes,
    optimiser: torch.optim.Optimizer,
    step: int,
    elapsed: float,
    rng: np.random.Generator,
    history: list[dict],
) -> None:
    """Write a resumable checkpoint atomically, with the loss history so far."""
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "prototypes": prototypes.state_dict(),
            "optimiser": optimiser.state_dict(),
            "step": step,
            "elapsed": elapsed,
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)


def train(
    config: RunConfig,
    train_store: ClipStore,
    val_store: ClipStore,
    text_embeddings: np.ndarray,
    out: Path,
    resume: bool = True,
    progress: bool = True,
    decoys: Decoys | None = None,
) -> dict:
    """Train the auditor and write ``model.pt``, ``config.json`` and ``history.json`` to ``out``.

    Args:
        config: Model, training and data configuration (saved beside the weights).
        train_store: Items to learn from.
        val_store: Held-out items scored every ``eval_every`` steps.
        text_embeddings: float32 [E, text_dim] for the stores' expressions (shared index).
        out: The run folder.
        resume: Continue from ``out/last.pt`` when it exists. Defaults to True.
        progress: Show a progress bar on stderr. Defaults to True.
        decoys: Decoy wordings of the naming expressions, shown instead of the real one with
            chance ``decoy_prob`` (``maskaudit.model.decoys``). Defaults to None: none.

    Returns:
        The last validation summary.
    """
    tc = config.train
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / "config.json")
    seed_everything(tc.seed)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    model = AuditorModel(config.model)
    prototypes = CategoryPrototypes(len(category_names()), config.model.c2)
    parameters = [*model.parameters(), *prototypes.parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=tc.lr, weight_decay=tc.weight_decay)
    with_grounding = tc.category_weight > 0
    rng = np.random.default_rng(tc.seed)
    step, elapsed = 0, 0.0
    history: list[dict] = []
    checkpoint = out / CHECKPOINT
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        prototypes.load_state_dict(state["prototypes"])
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed = state["step"], state["elapsed"]
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        history = state.get("history", [])
        logger.info("resumed from %s at step %d (%.1f min)", checkpoint, step, elapsed / 60)

    budget = tc.minutes * 60.0
    summary: dict = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=tc.max_steps, initial=step, desc="training", unit="step")
    started = time.monotonic() - elapsed
    n_items = len(train_store.items)
    while step < tc.max_steps and time.monotonic() - started < budget:
        model.train()
        picks = rng.choice(n_items, size=min(tc.clips_per_step, n_items), replace=False)
        items = [train_store.items[i] for i in picks]
        batch = make_batch(
            train_store, items, text_embeddings, rng=rng, truncate_prob=tc.truncate_prob
        )
        if decoys is not None and tc.decoy_prob > 0:
            swap_decoys(batch, items, decoys, tc.decoy_prob, rng)
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, expected_steps(step, started, budget, tc), tc.lr)
        outputs = model(*(batch[name] for name in MODEL_INPUTS), with_grounding=with_grounding)
        losses = audit_losses(*outputs[:3], batch)
        loss = tc.iou_weight * losses["iou"] + losses["type"] + losses["action"]
        if with_grounding:
            losses["category"] = prototypes(
                *outputs[3:], batch["categories"], batch["named"], batch["candidate_valid"]
            )
            loss = loss + tc.category_weight * losses["category"]
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 5.0)
        optimiser.step()
        step += 1
        record = {k: float(v.detach()) for k, v in losses.items()}
        if bar is not None:
            bar.update(1)
            bar.set_postfix(
                iou=f"{record['iou']:.4f}",
                type=f"{record['type']:.3f}",
                action=f"{record['action']:.3f}",
            )
        history.append({"step": step, **record})
        if step % tc.eval_every == 0:
            summary = evaluate(model, val_store, text_embeddings)
            history[-1]["val"] = summary
            logger.info("step %d: %s", step, summary)
            spent = time.monotonic() - started
            save_checkpoint(checkpoint, model, prototypes, optimiser, step, spent, rng, history)
    if bar is not None:
        bar.close()
    spent = time.monotonic() - started
    save_checkpoint(checkpoint, model, prototypes, optimiser, step, spent, rng, history)
    summary = evaluate(model, val_store, text_embeddings)
    torch.save(model.state_dict(), out / WEIGHTS)
    write_history(out / "history.json", history, summary, config, step, time.monotonic() - started)
    return summary


def swap_decoys(
    batch: dict[str, torch.Tensor],
    items: list[Item],
    decoys: Decoys,
    chance: float,
    rng: np.random.Generator,
) -> None:
    """Show some naming expressions under a decoy category word, labels unchanged.

    The swapped items' ``named`` becomes ``NO_CATEGORY``: the decoy word names no category, so
    the category loss has nothing to say about it.
    """
    for p, item in enumerate(items):
        if item.expression not in decoys.of_expression or rng.random() >= chance:
            continue
        batch["text_embedding"][p] = torch.from_numpy(decoys.pick(item.expression, rng))
        batch["named"][p] = NO_CATEGORY


def expected_steps(step: int, started: float, budget: float, tc) -> int:
    """Estimate the total steps the budget allows, for the learning-rate schedule."""
    spent = time.monotonic() - started
    if step < 20 or spent <= 0:
        return tc.max_steps
    return int(min(tc.max_steps, step * budget / spent))


def evaluate(model: AuditorModel, store: ClipStore, text_embeddings: np.ndarray) -> dict:
    """Score the model on a store: IoU RMSE, type and action accuracy."""
    if not store.items:
        return {}
    outputs = predict_store(model, store, text_embeddings, progress=False)
    return summarise(outputs, store)


def write_history(
    path: Path, history: list[dict], summary: dict, config: RunConfig, steps: int, seconds: float
) -> None:
    """Write the loss curve and the final validation summary as JSON."""
    path.write_text(
        json.dumps(
            {
                "config": asdict(config),
                "steps": steps,
                "seconds": round(seconds, 1),
                "final_validation": summary,
                "history": history[:: max(1, len(history) // 500)],
            },
            indent=1,
        )
        + "\n"
    )
