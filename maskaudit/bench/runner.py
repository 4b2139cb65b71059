"""Running a benchmark: the latency grid, and two configurations compared interleaved.

Every measurement does ``warmup`` untimed calls, then ``iterations`` timed ones with
``time.perf_counter_ns`` and the garbage collector paused. Thread counts are pinned: each graph
session gets ``threads`` intra-op threads and one inter-op thread, and OpenCV gets ``threads``
threads while its configuration runs (numpy's own BLAS threads are not changed).

:func:`run_comparison` loads both configurations in one process and times them in the same
repetitions, A then B, then B then A, alternating, so that a change of machine load touches
both alike; the ratio of each repetition's medians, and its spread over repetitions, is what a
claimed speed-up should be judged by.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from maskaudit.bench.plan import (
    AVAILABLE,
    PREPROCESSING_STAGES,
    BenchConfig,
    BenchPlan,
)
from maskaudit.bench.provenance import bench_provenance
from maskaudit.bench.stats import ratio_spread, summarise
from maskaudit.bench.workloads import (
    USES_BATCH,
    USES_K,
    SyntheticInputs,
    Workload,
    model_workload,
    preprocessing_workload,
    stage_cost,
)
from maskaudit.errors import BackendError
from maskaudit.runtime.backends.base import BACKEND_NAMES
from maskaudit.runtime.bundle import Bundle, load_bundle
from maskaudit.runtime.graphs import GraphSizes

logger = logging.getLogger(__name__)

SCHEMA = "maskaudit.bench/1"
"""Identifies the layout of the results JSON."""

Progress = Callable[[str], None]
"""Receives one line per measurement about to start."""


@dataclass
class BenchResult:
    """The outcome of :func:`run_bench` or :func:`run_comparison`.

    Attributes:
        kind: ``latency`` or ``comparison``.
        settings: The plan (and, for a comparison, the two configurations).
        provenance: Machine, GPU, versions, bundle and command line.
        records: One dict per measurement (see :func:`run_bench`, :func:`run_comparison`).
        skipped: ``{"what", "reason"}`` for each backend or stage not measured.
    """

    kind: str
    settings: dict
    provenance: dict
    records: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the JSON-ready results, ``schema`` first."""
        return {"schema": SCHEMA, **asdict(self)}


def time_calls(workload: Workload, iterations: int) -> np.ndarray:
    """Time ``iterations`` calls of a workload; the garbage collector is paused meanwhile.

    Args:
        workload: The workload (its ``before`` step runs untimed before each call).
        iterations: Timed calls.

    Returns:
        float64 latencies in milliseconds, one per call.
    """
    out = np.empty(iterations, dtype=np.float64)
    before, run = workload.before, workload.run
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(iterations):
            if before is not None:
                before()
            start = time.perf_counter_ns()
            run()
            out[i] = (time.perf_counter_ns() - start) / 1e6
    finally:
        if enabled:
            gc.enable()
    return out


def warm(workload: Workload, calls: int) -> None:
    """Run a workload ``calls`` times, untimed."""
    for _ in range(calls):
        if workload.before is not None:
            workload.before()
        workload.run()


@contextmanager
def opencv_threads(threads: int) -> Iterator[None]:
    """Pin OpenCV's thread count for the duration, then restore it."""
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(int(threads))
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def load_auditor(bundle: Bundle, config: BenchConfig) -> Any:
    """Start a bundle on a configuration's backend, precision and pinned threads.

    Args:
        bundle: The loaded bundle.
        config: Backend, precision and intra-op threads (inter-op threads are 1).

    Returns:
        The :class:`~maskaudit.runtime.auditor.Auditor`.

    Raises:
        BackendError: If the backend cannot run here.
        BundleError: If the bundle lacks the precision.
    """
    from maskaudit.runtime.auditor import Auditor

    return Auditor.load(
        bundle,
        backend=config.backend,
        precision=config.precision,
        threads=config.threads,
        inter_threads=1,
        warmup=False,
    )


def _axes(stage: str, plan: BenchPlan) -> list[tuple[int, int | None]]:
    """The ``(batch, k)`` pairs a stage is measured at."""
    batches = plan.batches if stage in USES_BATCH else (1,)
    ks: tuple[int | None, ...] = plan.ks if stage in USES_K else (None,)
    return [(b, k) for b in batches for k in ks]


def _record(workload: Workload, latencies: np.ndarray, plan: BenchPlan, manifest: dict) -> dict:
    """One latency record: the workload's axes, its summary and its cost."""
    params, macs = stage_cost(manifest, workload.stage, workload.batch, workload.k)
    return {
        "stage": workload.stage,
        "batch": workload.batch,
        "k": workload.k,
        "unit": workload.unit,
        "items_per_call": workload.items,
        "warmup": plan.warmup,
        "iterations": plan.iterations,
        **summarise(latencies, workload.items),
        "throughput_unit": f"{workload.unit}/s",
        "parameters": params,
        "macs": macs,
    }


def _config_fields(auditor: Any, config: BenchConfig, graph: str | None) -> dict:
    """What ran: the backend asked for and the one used, precisions, threads, providers."""
    backend = auditor.backend
    return {
        "backend": backend.name,
        "backend_requested": config.backend,
        "precision": config.precision,
        "graph_precision": backend.precisions.get(graph) if graph else backend.precision,
        "threads": config.threads,
        "providers": backend.providers.get(graph or "audit_head", []),
        "backend_note": backend.note or None,
    }


def _no_backend(threads: int) -> dict:
    """The configuration fields of a preprocessing record: no backend, no precision."""
    return {
        "backend": None,
        "backend_requested": None,
        "precision": None,
        "graph_precision": None,
        "threads": threads,
        "providers": [],
        "backend_note": None,
    }


def _backend_list(plan: BenchPlan) -> list[tuple[str, bool]]:
    """The backends to try, each with whether a failure to load only skips it."""
    out: dict[str, bool] = {}
    for name in plan.backends:
        for backend in BACKEND_NAMES if name == AVAILABLE else (name,):
            out[backend] = out.get(backend, True) and name == AVAILABLE
    return list(out.items())


def run_bench(
    plan: BenchPlan, progress: Progress | None = None, command: str | None = None
) -> BenchResult:
    """Time every stage of a bundle over the plan's backends, precisions, threads, K and batch.

    Preprocessing stages run once per thread count (they do not depend on the backend or the
    precision; their records have ``backend`` and ``precision`` None), after the model stages,
    so that a backend that cannot run fails the run at once; their records come first. The text
    encoder and the end-to-end audit run at batch 1 only.

    Args:
        plan: What to measure.
        progress: Called with a line before each measurement. Defaults to None.
        command: The command line for the provenance. Defaults to None: this process's.

    Returns:
        The results; each record holds the stage, ``backend`` (what really ran),
        ``backend_requested``, ``precision``, ``graph_precision`` (the file that ran),
        ``threads``, ``batch``, ``k``, ``p50_ms`` ... ``p99_ms``, ``mean_ms``, ``std_ms``,
        ``min_ms``, ``max_ms``, ``throughput`` (``throughput_unit``), ``parameters`` and
        ``macs`` (per call; None where the manifest has no count).

    Raises:
        BundleError: If the bundle is missing or broken, or lacks an asked-for precision.
        BackendError: If a backend named in the plan cannot run here (backends that
            ``available`` stands for are skipped instead), or none loads at all.
    """
    bundle = load_bundle(plan.bundle)
    result = BenchResult("latency", plan.to_dict(), bench_provenance(bundle, command))
    sizes = GraphSizes.from_bundle(bundle)
    inputs = SyntheticInputs(plan.frame_size, max(plan.batches), max(plan.ks), plan.seed)
    say = progress or (lambda line: None)

    model_stages = [s for s in plan.stages if s not in PREPROCESSING_STAGES]
    if model_stages:
        _measure_backends(bundle, model_stages, plan, inputs, result, say)
    pre_stages = [s for s in plan.stages if s in PREPROCESSING_STAGES]
    result.records[:0] = _measure_preprocessing(pre_stages, sizes, plan, inputs, bundle, say)
    result.provenance["load_average_1min_end"] = _load_average()
    return result


def _measure_backends(
    bundle: Bundle,
    stages: list[str],
    plan: BenchPlan,
    inputs: SyntheticInputs,
    result: BenchResult,
    say: Progress,
) -> None:
    """Load every backend, precision and thread count of the plan and measure ``stages``."""
    loaded_any = False
    for backend, optional in _backend_list(plan):
        configs = [BenchConfig(backend, p, t) for p in plan.precisions for t in plan.threads]
        for config in configs:
            try:
                auditor = load_auditor(bundle, config)
            except BackendError as err:
                if not optional:
                    raise
                logger.info("backend %s skipped: %s", backend, err)
                result.skipped.append({"what": backend, "reason": str(err)})
                break
            loaded_any = True
            with opencv_threads(config.threads):
                _measure_model(auditor, config, stages, plan, inputs, result, say)
            del auditor
    if not loaded_any:
        reasons = "; ".join(f"{s['what']}: {s['reason']}" for s in result.skipped)
        raise BackendError(f"no backend loads here ({reasons})")


def _measure_preprocessing(
    stages: list[str],
    sizes: GraphSizes,
    plan: BenchPlan,
    inputs: SyntheticInputs,
    bundle: Bundle,
    say: Progress,
) -> list[dict]:
    """Measure the preprocessing ``stages`` once per thread count; return their records."""
    records = []
    for threads in plan.threads if stages else ():
        with opencv_threads(threads):
            for stage in stages:
                for batch, k in _axes(stage, plan):
                    say(f"{stage} threads={threads} batch={batch} k={k}")
                    workload = preprocessing_workload(stage, sizes, inputs, batch, k)
                    record = _measure(workload, plan, bundle.manifest)
                    records.append({**record, **_no_backend(threads)})
    return records


def _measure_model(
    auditor: Any,
    config: BenchConfig,
    stages: list[str],
    plan: BenchPlan,
    inputs: SyntheticInputs,
    result: BenchResult,
    say: Progress,
) -> None:
    """Measure the model stages of one loaded configuration into ``result``."""
    for stage in stages:
        for batch, k in _axes(stage, plan):
            say(f"{stage} {config.label()} batch={batch} k={k}")
            workload = model_workload(stage, auditor, inputs, batch, k, plan.expression)
            record = _measure(workload, plan, auditor.bundle.manifest)
            result.records.append({**record, **_config_fields(auditor, config, workload.graph)})


def _measure(workload: Workload, plan: BenchPlan, manifest: dict) -> dict:
    """Warm a workload up, time it and build its record."""
    warm(workload, plan.warmup)
    return _record(workload, time_calls(workload, plan.iterations), plan, manifest)


def _load_average() -> float | None:
    """The 1-minute load average, where the system reports it."""
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def comparison_stages(plan: BenchPlan, a: BenchConfig, b: BenchConfig) -> list[str]:
    """The plan's stages whose cost can differ between A and B.

    Preprocessing does not depend on the backend or the precision: it is compared only when
    the thread counts differ.
    """
    same_threads = a.threads == b.threads
    return [s for s in plan.stages if not (same_threads and s in PREPROCESSING_STAGES)]


def run_comparison(
    plan: BenchPlan,
    a: BenchConfig,
    b: BenchConfig,
    repetitions: int = 5,
    progress: Progress | None = None,
    command: str | None = None,
) -> BenchResult:
    """Time two configurations interleaved in this process and report their ratio.

    Both are loaded at once. For each stage, batch and K, both are warmed up, then each of
    ``repetitions`` repetitions times ``plan.iterations`` calls of A and of B back to back, in
    the order A, B on even repetitions and B, A on odd ones.

    Args:
        plan: The stages, axes and timing settings (its backends, precisions and threads are
            not used: ``a`` and ``b`` say what runs).
        a: The first configuration.
        b: The second configuration.
        repetitions: Repetitions of the interleaved timing. Defaults to 5.
        progress: Called with a line before each measurement. Defaults to None.
        command: The command line for the provenance. Defaults to None: this process's.

    Returns:
        The results; each record holds ``stage``, ``batch``, ``k``, ``unit``, ``a`` and ``b``
        (what ran and the summary of all its timed calls), ``latency_ratio`` (A/B per
        repetition: median, q25, q75, min, max, per_repetition), ``speedup`` (B/A, likewise)
        and ``repetitions``.

    Raises:
        ConfigError: If ``repetitions`` is below 1.
        BackendError: If either backend cannot run here.
        BundleError: If the bundle is broken or lacks a precision.
    """
    from maskaudit.errors import ConfigError

    if repetitions < 1:
        raise ConfigError(f"--repetitions {repetitions} is below 1: pass 1 or more (e.g. 5)")
    bundle = load_bundle(plan.bundle)
    settings = {
        **plan.to_dict(),
        "a": asdict(a),
        "b": asdict(b),
        "repetitions": repetitions,
        "order": "A,B on even repetitions, B,A on odd ones",
    }
    result = BenchResult("comparison", settings, bench_provenance(bundle, command))
    sizes = GraphSizes.from_bundle(bundle)
    inputs = SyntheticInputs(plan.frame_size, max(plan.batches), max(plan.ks), plan.seed)
    auditors = {"a": load_auditor(bundle, a), "b": load_auditor(bundle, b)}
    configs = {"a": a, "b": b}
    say = progress or (lambda line: None)

    stages = comparison_stages(plan, a, b)
    for stage in plan.stages:
        if stage not in stages:
            result.skipped.append(
                {"what": stage, "reason": "the same in both configurations (same threads)"}
            )
    for stage in stages:
        for batch, k in _axes(stage, plan):
            say(f"{stage} {a.label()} vs {b.label()} batch={batch} k={k}")
            loads = {}
            for side in ("a", "b"):
                if stage in PREPROCESSING_STAGES:
                    loads[side] = preprocessing_workload(stage, sizes, inputs, batch, k)
                else:
                    loads[side] = model_workload(
                        stage, auditors[side], inputs, batch, k, plan.expression
                    )
            times = _interleave(loads, configs, plan, repetitions)
            result.records.append(
                _comparison_record(stage, loads, times, auditors, configs, plan, bundle.manifest)
            )
    result.provenance["load_average_1min_end"] = _load_average()
    return result


def _interleave(
    loads: dict[str, Workload], configs: dict[str, BenchConfig], plan: BenchPlan, repetitions: int
) -> dict[str, list[np.ndarray]]:
    """Warm both sides, then time them in alternating order, repetition by repetition."""
    for side in ("a", "b"):
        with opencv_threads(configs[side].threads):
            warm(loads[side], plan.warmup)
    times: dict[str, list[np.ndarray]] = {"a": [], "b": []}
    for rep in range(repetitions):
        for side in ("a", "b") if rep % 2 == 0 else ("b", "a"):
            with opencv_threads(configs[side].threads):
                times[side].append(time_calls(loads[side], plan.iterations))
    return times


def _comparison_record(
    stage: str,
    loads: dict[str, Workload],
    times: dict[str, list[np.ndarray]],
    auditors: dict[str, Any],
    configs: dict[str, BenchConfig],
    plan: BenchPlan,
    manifest: dict,
) -> dict:
    """One comparison record: what ran on each side, their summaries and the ratio."""
    workload = loads["a"]
    params, macs = stage_cost(manifest, stage, workload.batch, workload.k)
    sides = {}
    for side in ("a", "b"):
        if stage in PREPROCESSING_STAGES:
            ran = _no_backend(configs[side].threads)
        else:
            ran = _config_fields(auditors[side], configs[side], loads[side].graph)
        sides[side] = {**ran, **summarise(np.concatenate(times[side]), workload.items)}
    return {
        "stage": stage,
        "batch": workload.batch,
        "k": workload.k,
        "unit": workload.unit,
        "items_per_call": workload.items,
        "throughput_unit": f"{workload.unit}/s",
        "warmup": plan.warmup,
        "iterations_per_repetition": plan.iterations,
        "parameters": params,
        "macs": macs,
        **sides,
        **ratio_spread(times["a"], times["b"]),
    }
