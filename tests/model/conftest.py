"""Helpers shared by the model tests."""

from pathlib import Path

from click.testing import CliRunner

from maskaudit.model.dataset import ClipStore


def tiny_stores(folder: Path, videos: int, seed: int) -> tuple[ClipStore, ClipStore, ClipStore]:
    """Generate a tiny benchmark in ``folder`` and split its train split 80/20 by video.

    Returns:
        The whole train store, its training part and its held-out part.
    """
    from maskaudit.commands.synth import command as synth
    from maskaudit.model.dataset import build_store, video_in_holdout

    data = folder / "bench"
    result = CliRunner().invoke(
        synth, ["--out", str(data), "--videos", str(videos), "--seed", str(seed)]
    )
    assert result.exit_code == 0, result.output
    store = build_store(data, "train", "train", progress=False)
    held = {v for v in store.videos if video_in_holdout(v, 0.2)}
    train_store = store.subset(lambda item: store.videos[item.video] not in held)
    val_store = store.subset(lambda item: store.videos[item.video] in held)
    assert train_store.items and val_store.items
    return store, train_store, val_store
