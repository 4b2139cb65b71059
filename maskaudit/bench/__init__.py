"""Latency and throughput of a bundle, stage by stage and end to end, with provenance.

What ``maskaudit bench`` runs. Needs numpy, onnxruntime and OpenCV, never torch.

Example:
    >>> from maskaudit.bench import BenchPlan, run_bench, latency_table
    >>> result = run_bench(BenchPlan(backends=("ort-cpu",), ks=(1, 4)))  # doctest: +SKIP
    >>> print(latency_table(result.records))  # doctest: +SKIP
"""

from maskaudit.bench.plan import (
    AVAILABLE,
    BACKEND_CHOICES,
    COMPARE_KEYS,
    END_TO_END,
    MODEL_STAGES,
    PRECISION_CHOICES,
    PREPROCESSING_STAGES,
    STAGES,
    BenchConfig,
    BenchPlan,
    parse_config,
    parse_ints,
    parse_names,
    parse_size,
)
from maskaudit.bench.provenance import bench_provenance, command_line, gpu_info
from maskaudit.bench.runner import SCHEMA, BenchResult, run_bench, run_comparison, time_calls
from maskaudit.bench.stats import PERCENTILES, ratio_spread, summarise
from maskaudit.bench.table import comparison_table, latency_table

__all__ = [
    "AVAILABLE",
    "BACKEND_CHOICES",
    "COMPARE_KEYS",
    "END_TO_END",
    "MODEL_STAGES",
    "PERCENTILES",
    "PRECISION_CHOICES",
    "PREPROCESSING_STAGES",
    "SCHEMA",
    "STAGES",
    "BenchConfig",
    "BenchPlan",
    "BenchResult",
    "bench_provenance",
    "command_line",
    "comparison_table",
    "gpu_info",
    "latency_table",
    "parse_config",
    "parse_ints",
    "parse_names",
    "parse_size",
    "ratio_spread",
    "run_bench",
    "run_comparison",
    "summarise",
    "time_calls",
]
