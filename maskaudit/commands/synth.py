"""``maskaudit synth``: generate the synthetic audio-visual benchmark."""

from __future__ import annotations

import sys
import time

import click

from maskaudit.data.writer import write_benchmark


@click.command("synth")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder (created). A previous synthetic benchmark there is replaced; any other "
    "non-empty folder is refused.",
)
@click.option(
    "--videos",
    default=300,
    show_default=True,
    type=int,
    help="Number of videos (two expressions each where the scene allows); about 70% train, "
    "15% test_s, 15% test_u.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed; the same seed gives identical files.",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=int,
    help="Worker processes. More is faster up to the number of cores; the output does not "
    "depend on it.",
)
def command(out: str, videos: int, seed: int, workers: int) -> None:
    """Generate a synthetic benchmark in the MQ-RAVSBench layout.

    Writes frames (224x224 JPEG), 16 kHz audio, candidate masks of every type and rank with
    their IoU and action, metadata.csv, the train / test_s / test_u JSON files and a sidecar
    with every scene's facts (train_test_meta_files/synth_scenes.json). Progress goes to stderr.
    """
    start = time.perf_counter()
    if sys.stderr.isatty():
        with click.progressbar(length=videos, label="synth", file=sys.stderr, show_pos=True) as bar:
            done = 0

            def advance(finished: int) -> None:
                nonlocal done
                bar.update(finished - done)
                done = finished

            counts = write_benchmark(out, videos, seed=seed, workers=workers, progress=advance)
    else:
        step = max(1, videos // 10)

        def report(finished: int) -> None:
            if finished % step == 0 or finished == videos:
                elapsed = time.perf_counter() - start
                click.echo(f"synth: {finished}/{videos} videos, {elapsed:.1f} s", err=True)

        counts = write_benchmark(out, videos, seed=seed, workers=workers, progress=report)
    seconds = time.perf_counter() - start
    click.echo(
        f"wrote {counts['videos']} videos to {out}: uids train {counts['train']}, "
        f"test_s {counts['test_s']}, test_u {counts['test_u']}; "
        f"{counts['candidates']} candidate masks in {seconds:.1f} s"
    )
