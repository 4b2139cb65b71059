"""What a benchmark measures: the configurations, the axes and the timing settings.

The parsers turn command-line text (``"int8,fp32"``, ``"precision=int8"``) into these objects
and refuse a bad value with a :class:`~maskaudit.errors.ConfigError` that names the option and
says what it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from maskaudit.errors import ConfigError
from maskaudit.runtime.backends.base import BACKEND_NAMES

AVAILABLE = "available"
"""The ``--backend`` value that benchmarks every concrete backend that loads here."""

BACKEND_CHOICES: tuple[str, ...] = (AVAILABLE, "auto", *BACKEND_NAMES)
"""Every name ``--backend`` accepts."""

PRECISION_CHOICES: tuple[str, ...] = ("int8", "fp32")
"""Every name ``--precision`` accepts."""

PREPROCESSING_STAGES: tuple[str, ...] = ("frame_resize", "mask_resize", "log_mel")
"""Stages that run in numpy and OpenCV: the same on every backend and precision."""

MODEL_STAGES: tuple[str, ...] = ("frame_encoder", "audio_encoder", "text_encoder", "audit_head")
"""Stages that run one bundle graph on the backend."""

END_TO_END = "end_to_end"
"""The stage that audits one frame's K candidates through ``Auditor.audit``."""

STAGES: tuple[str, ...] = (*PREPROCESSING_STAGES, *MODEL_STAGES, END_TO_END)
"""Every stage, in the order a frame meets them."""

COMPARE_KEYS: tuple[str, ...] = ("backend", "precision", "threads")
"""Fields a comparison may set differently for its two configurations."""


@dataclass(frozen=True)
class BenchConfig:
    """One runtime configuration to time.

    Attributes:
        backend: A concrete backend or ``auto``. Defaults to ``"ort-cpu"``.
        precision: ``int8`` or ``fp32``. Defaults to ``"int8"``.
        threads: Intra-op threads per graph and OpenCV threads (inter-op threads are 1).
            Defaults to 1.
    """

    backend: str = "ort-cpu"
    precision: str = "int8"
    threads: int = 1

    def label(self) -> str:
        """Return ``backend/precision/threads``, e.g. ``ort-cpu/int8/1t``."""
        return f"{self.backend}/{self.precision}/{self.threads}t"


@dataclass(frozen=True)
class BenchPlan:
    """The axes and timing settings of a benchmark run.

    Attributes:
        bundle: The bundle folder. Defaults to None: the shipped bundle.
        backends: Backends to time; ``available`` stands for every concrete backend that loads
            here. Defaults to ``("available",)``.
        precisions: Precisions to time. Defaults to ``("int8", "fp32")``.
        threads: Thread counts to time. Defaults to ``(1,)``.
        ks: Candidates per frame. Defaults to ``(1, 4, 16)``.
        batches: Frames (or windows) per encoder and head call. Defaults to ``(1,)``.
        stages: Stages to time (see ``STAGES``). Defaults to all of them.
        warmup: Untimed calls before the timed ones, per measurement. Defaults to 5.
        iterations: Timed calls per measurement (per repetition in a comparison). Defaults
            to 30.
        frame_size: Width and height of the synthetic source frames and masks, before they
            are resized to the bundle's size. Defaults to ``(640, 480)``.
        expression: The referring expression of the end-to-end audit. Defaults to ``"the
            object making the loudest sound"``.
        seed: Seed of the synthetic inputs. Defaults to 0.
    """

    bundle: Path | None = None
    backends: tuple[str, ...] = (AVAILABLE,)
    precisions: tuple[str, ...] = ("int8", "fp32")
    threads: tuple[int, ...] = (1,)
    ks: tuple[int, ...] = (1, 4, 16)
    batches: tuple[int, ...] = (1,)
    stages: tuple[str, ...] = STAGES
    warmup: int = 5
    iterations: int = 30
    frame_size: tuple[int, int] = (640, 480)
    expression: str = "the object making the loudest sound"
    seed: int = 0

    def __post_init__(self) -> None:
        _check_names(self.backends, BACKEND_CHOICES, "--backend")
        _check_names(self.precisions, PRECISION_CHOICES, "--precision")
        _check_names(self.stages, STAGES, "--stages")
        for values, option in ((self.threads, "--threads"), (self.ks, "--k")):
            _check_positive(values, option)
        _check_positive(self.batches, "--batch")
        if self.warmup < 0:
            raise ConfigError(f"--warmup {self.warmup} is negative: pass 0 or more")
        if self.iterations < 1:
            raise ConfigError(f"--iterations {self.iterations} is below 1: pass 1 or more")
        if min(self.frame_size) < 1:
            raise ConfigError(f"--frame-size {self.frame_size} is empty: pass e.g. 640x480")

    def to_dict(self) -> dict:
        """Return the plan as JSON-ready settings."""
        return {
            "bundle": None if self.bundle is None else str(self.bundle),
            "backends": list(self.backends),
            "precisions": list(self.precisions),
            "threads": list(self.threads),
            "inter_op_threads": 1,
            "k": list(self.ks),
            "batch": list(self.batches),
            "stages": list(self.stages),
            "warmup": self.warmup,
            "iterations": self.iterations,
            "frame_size": list(self.frame_size),
            "expression": self.expression,
            "seed": self.seed,
        }


def _check_names(values: tuple[str, ...], choices: tuple[str, ...], option: str) -> None:
    """Refuse an empty list or a name outside ``choices``."""
    if not values:
        raise ConfigError(f"{option} is empty: pass one or more of {', '.join(choices)}")
    for value in values:
        if value not in choices:
            raise ConfigError(
                f"unknown value {value!r} in {option}: choose from {', '.join(choices)} "
                "(several separated by commas)"
            )


def _check_positive(values: tuple[int, ...], option: str) -> None:
    """Refuse an empty list or a value below 1."""
    if not values:
        raise ConfigError(f"{option} is empty: pass one or more whole numbers, e.g. 1,4")
    for value in values:
        if value < 1:
            raise ConfigError(f"{option} holds {value}: every value must be 1 or more")


def parse_names(text: str, option: str) -> tuple[str, ...]:
    """Split comma-separated names, dropping blanks and repeats (``"all"`` is kept as is).

    Args:
        text: E.g. ``"int8,fp32"``.
        option: The option's name, for messages.

    Returns:
        The names in order.

    Raises:
        ConfigError: If no name is given.
    """
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise ConfigError(f"{option} is empty: pass one or more names separated by commas")
    return names


def parse_ints(text: str, option: str) -> tuple[int, ...]:
    """Split comma-separated whole numbers, e.g. ``"1,4,16"``.

    Args:
        text: The option's text.
        option: The option's name, for messages.

    Returns:
        The numbers in order, without repeats.

    Raises:
        ConfigError: If a part is not a whole number.
    """
    values = []
    for part in parse_names(text, option):
        try:
            values.append(int(part))
        except ValueError:
            raise ConfigError(
                f"{option} holds {part!r}, not a whole number: pass e.g. {option} 1,4,16"
            ) from None
    return tuple(dict.fromkeys(values))


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``"640x480"``) into ``(width, height)``.

    Raises:
        ConfigError: If the text is not two whole numbers joined by ``x``.
    """
    parts = text.lower().split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"--frame-size {text!r} is not WIDTHxHEIGHT: pass e.g. --frame-size 640x480"
        ) from None
    return width, height


def parse_config(text: str, base: BenchConfig) -> BenchConfig:
    """Parse a comparison side such as ``"precision=int8"`` or ``"backend=ort-cpu,threads=2"``.

    Fields not named keep the value of ``base``.

    Args:
        text: Comma-separated ``key=value`` pairs; keys from ``COMPARE_KEYS``.
        base: The configuration the pairs change.

    Returns:
        The configuration.

    Raises:
        ConfigError: If a pair is malformed, a key unknown or a value invalid.
    """
    changes: dict[str, str | int] = {}
    for pair in parse_names(text, "--compare"):
        key, sep, value = (s.strip() for s in pair.partition("="))
        if not sep or key not in COMPARE_KEYS or not value:
            raise ConfigError(
                f"--compare {text!r}: {pair!r} is not KEY=VALUE with KEY one of "
                f"{', '.join(COMPARE_KEYS)}; e.g. --compare precision=int8 precision=fp32"
            )
        changes[key] = value
    if "threads" in changes:
        (threads,) = parse_ints(str(changes["threads"]), "--compare threads")
        _check_positive((threads,), "--compare threads")
        changes["threads"] = threads
    config = replace(base, **changes)
    _check_names((config.backend,), ("auto", *BACKEND_NAMES), "--compare backend")
    _check_names((config.precision,), PRECISION_CHOICES, "--compare precision")
    return config
