"""The ``maskaudit`` command line.

Each subcommand lives in ``maskaudit/commands/<name>.py`` as a click command named ``command``
and is imported only when it runs, so ``maskaudit --help`` stays fast and a command's heavy
imports (PyTorch for ``train``) never slow another.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from maskaudit import __version__
from maskaudit.errors import MaskauditError

COMMANDS: dict[str, str] = {
    "demo": "Stream a generated sample clip through the shipped bundle.",
    "audit": "Audit one frame's candidate masks and print verdict JSON.",
    "stream": "Audit a video, camera or URL stream; write JSON-lines verdicts.",
    "eval": "Score predictions (or a baseline) with the reference protocol.",
    "bench": "Measure latency and throughput of a bundle per backend and precision.",
    "export": "Export a checkpoint to an ONNX bundle with INT8 variants.",
    "build-engine": "Build TensorRT engines for a bundle (needs TensorRT).",
    "train": "Train the auditor on a benchmark folder.",
    "synth": "Generate the synthetic audio-visual benchmark.",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the subcommand names in the order of ``COMMANDS``."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the subcommand ``cmd_name``, or None if unknown."""
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"maskaudit.commands.{cmd_name.replace('-', '_')}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands with their one-line summaries, without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maskaudit")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on the log.")
def cli(verbose: int, quiet: bool) -> None:
    """maskaudit: audit segmentation masks in real time, without ground truth."""
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a user-facing error becomes one line on stderr and exit code 1.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).
    """
    try:
        cli.main(args=argv, prog_name="maskaudit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("maskaudit: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MaskauditError as exc:
        click.echo(f"maskaudit: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("maskaudit: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        click.echo(
            f"maskaudit: internal error: {type(exc).__name__}: {exc} (rerun with -vv)", err=True
        )
        sys.exit(2)
