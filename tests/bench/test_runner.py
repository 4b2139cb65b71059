import math

import numpy as np
import pytest

from maskaudit.bench import runner
from maskaudit.bench.plan import BenchConfig, BenchPlan
from maskaudit.bench.workloads import SyntheticInputs, model_workload, stage_cost
from maskaudit.errors import BackendError
from maskaudit.export.manifest import sha256_file
from maskaudit.runtime.backends.base import BACKEND_NAMES
from maskaudit.runtime.bundle import load_bundle

from .conftest import MACS, PARAMETERS

NUMBERS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms")


def small_plan(bundle, **changes):
    settings = dict(
        bundle=bundle,
        backends=("ort-cpu",),
        precisions=("int8", "fp32"),
        ks=(1, 3),
        batches=(1, 2),
        warmup=1,
        iterations=4,
        frame_size=(200, 150),
    )
    settings.update(changes)
    return BenchPlan(**settings)


@pytest.fixture(scope="module")
def grid(tiny_bundle):
    return runner.run_bench(small_plan(tiny_bundle), command="maskaudit bench (test)")


def test_every_stage_and_axis_is_measured(grid):
    keys = {(r["stage"], r["precision"], r["batch"], r["k"]) for r in grid.records}
    expected = set()
    for b in (1, 2):
        expected |= {("frame_resize", None, b, None), ("log_mel", None, b, None)}
        expected |= {("mask_resize", None, b, k) for k in (1, 3)}
        for p in ("int8", "fp32"):
            expected |= {("frame_encoder", p, b, None), ("audio_encoder", p, b, None)}
            expected |= {("audit_head", p, b, k) for k in (1, 3)}
    for p in ("int8", "fp32"):
        expected |= {("text_encoder", p, 1, None)}
        expected |= {("end_to_end", p, 1, k) for k in (1, 3)}
    assert keys == expected
    assert len(grid.records) == len(expected)


def test_records_are_numeric_and_ordered(grid):
    assert len({tuple(sorted(r)) for r in grid.records}) == 1  # every record has the same fields
    for r in grid.records:
        for key in NUMBERS:
            assert isinstance(r[key], float) and math.isfinite(r[key]), (r["stage"], key)
        assert r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert r["p99_ms"] <= r["max_ms"]
        assert r["samples"] == r["iterations"] == 4
        assert r["throughput"] == pytest.approx(r["items_per_call"] * 1000.0 / r["mean_ms"])
        assert r["threads"] == 1
        assert r["throughput_unit"] == f"{r['unit']}/s"


def test_records_say_what_ran(grid):
    for r in grid.records:
        if r["stage"] in ("frame_resize", "mask_resize", "log_mel"):
            assert r["backend"] is None and r["graph_precision"] is None
            continue
        assert r["backend"] == r["backend_requested"] == "ort-cpu"
        assert r["providers"] == ["CPUExecutionProvider"]
        if r["stage"] == "text_encoder":
            assert r["graph_precision"] == "int8"  # the tiny bundle ships it in int8 only
        else:
            assert r["graph_precision"] == r["precision"]
    heads = [r for r in grid.records if r["stage"] == "audit_head"]
    assert {r["items_per_call"] for r in heads} == {1, 2, 3, 6}  # batch x K masks


def test_parameters_and_macs_come_from_the_manifest(grid):
    for r in grid.records:
        if r["stage"] == "frame_encoder":
            assert r["parameters"] == PARAMETERS["frame_encoder"]
            assert r["macs"] == MACS["frame_encoder"] * r["batch"]
        elif r["stage"] == "audit_head":
            per_frame = MACS["audit_head_1"] + (r["k"] - 1) * MACS["per_extra_candidate"]
            assert r["macs"] == per_frame * r["batch"]
        elif r["stage"] == "end_to_end":
            assert r["parameters"] == PARAMETERS["total"]
            assert r["macs"] == MACS["per_frame"] + (r["k"] - 1) * MACS["per_extra_candidate"]
        elif r["stage"] in ("frame_resize", "log_mel", "text_encoder"):
            assert r["parameters"] is None and r["macs"] is None


def test_cost_is_none_without_a_model_section():
    assert stage_cost({}, "audit_head", 2, 4) == (None, None)
    assert stage_cost({"model": {"macs": {"audit_head_1": 10}}}, "audit_head", 2, 1) == (None, 20)
    assert stage_cost({"model": {"macs": {"audit_head_1": 10}}}, "audit_head", 1, 2) == (None, None)


def test_provenance(grid, tiny_bundle):
    prov = grid.provenance
    assert prov["command"] == "maskaudit bench (test)"
    assert prov["bundle"]["manifest_sha256"] == sha256_file(tiny_bundle / "manifest.json")
    assert prov["bundle"]["macs"] == MACS
    assert prov["machine"]["logical_cores"] >= 1 and prov["machine"]["cpu"]
    for name in ("maskaudit", "onnxruntime", "numpy", "opencv", "python"):
        assert prov["versions"][name]
    assert "gpu" in prov
    data = grid.to_dict()
    assert data["schema"] == runner.SCHEMA and data["kind"] == "latency"
    assert data["settings"]["k"] == [1, 3]


def test_end_to_end_never_hits_the_auditor_caches(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    auditor = runner.load_auditor(bundle, BenchConfig("ort-cpu", "fp32", 1))
    counts = {"frame_encoder": 0, "audio_encoder": 0}
    for graph in counts:
        real = auditor.backend.runners[graph]

        class Counting:
            def __init__(self, inner, graph=graph):
                self.inner, self.graph = inner, graph

            def run(self, feeds):
                counts[self.graph] += 1
                return self.inner.run(feeds)

        auditor.backend.runners[graph] = Counting(real)
    inputs = SyntheticInputs((333, 251), masks=2)
    workload = model_workload("end_to_end", auditor, inputs, 1, 2, "the loudest object")
    runner.warm(workload, 3)
    runner.time_calls(workload, 4)
    assert counts == {"frame_encoder": 7, "audio_encoder": 7}


def test_available_measures_what_loads_and_lists_the_rest(tiny_bundle):
    plan = small_plan(
        tiny_bundle,
        backends=("available",),
        precisions=("fp32",),
        stages=("audit_head",),
        ks=(1,),
        batches=(1,),
        iterations=2,
    )
    result = runner.run_bench(plan)
    measured = {r["backend"] for r in result.records}
    skipped = {s["what"] for s in result.skipped}
    assert "ort-cpu" in measured
    assert measured | skipped == set(BACKEND_NAMES)
    assert all(s["reason"] for s in result.skipped)


def test_a_named_backend_that_cannot_run_is_an_error(tiny_bundle, monkeypatch):
    def refuse(bundle, config):
        raise BackendError(f"backend {config.backend}: not here")

    monkeypatch.setattr(runner, "load_auditor", refuse)
    with pytest.raises(BackendError, match="ort-cuda"):
        runner.run_bench(small_plan(tiny_bundle, backends=("ort-cuda",), stages=("audit_head",)))


def test_comparison_interleaves_and_divides_the_two_sides(tiny_bundle, monkeypatch):
    order = []
    real_time_calls = runner.time_calls
    real_model_workload = runner.model_workload

    def tagged(stage, auditor, *args):
        workload = real_model_workload(stage, auditor, *args)
        workload.side = "a" if auditor.backend.precision == "int8" else "b"
        return workload

    def fake_time_calls(workload, iterations):
        real_time_calls(workload, 1)  # the workload really runs
        order.append(workload.side)
        return np.full(iterations, 3.0 if workload.side == "a" else 1.5)

    monkeypatch.setattr(runner, "model_workload", tagged)
    monkeypatch.setattr(runner, "time_calls", fake_time_calls)
    plan = small_plan(tiny_bundle, stages=("audit_head",), ks=(2,), batches=(1,), iterations=3)
    a, b = BenchConfig("ort-cpu", "int8", 1), BenchConfig("ort-cpu", "fp32", 1)
    result = runner.run_comparison(plan, a, b, repetitions=4)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    (record,) = result.records
    assert record["latency_ratio"]["median"] == 2.0
    assert record["latency_ratio"]["per_repetition"] == [2.0] * 4
    assert record["speedup"]["median"] == 0.5
    assert record["a"]["precision"] == "int8" and record["b"]["precision"] == "fp32"
    assert record["a"]["samples"] == record["b"]["samples"] == 12


def test_comparison_on_real_timings(tiny_bundle):
    plan = small_plan(
        tiny_bundle,
        stages=("frame_resize", "frame_encoder", "end_to_end"),
        ks=(2,),
        batches=(1,),
        iterations=3,
    )
    a, b = BenchConfig("ort-cpu", "int8", 1), BenchConfig("ort-cpu", "fp32", 1)
    result = runner.run_comparison(plan, a, b, repetitions=3)
    assert [r["stage"] for r in result.records] == ["frame_encoder", "end_to_end"]
    assert [s["what"] for s in result.skipped] == ["frame_resize"]  # same threads on both sides
    for r in result.records:
        ratio = r["latency_ratio"]
        assert len(ratio["per_repetition"]) == r["repetitions"] == 3
        assert ratio["q25"] <= ratio["median"] <= ratio["q75"]
        # each repetition's ratio of medians lies within what the two sides' calls allow
        low = r["a"]["min_ms"] / r["b"]["max_ms"]
        high = r["a"]["max_ms"] / r["b"]["min_ms"]
        assert all(low <= v <= high for v in ratio["per_repetition"])
        assert r["speedup"]["median"] == pytest.approx(1.0 / ratio["median"])
        assert r["a"]["graph_precision"] == "int8" and r["b"]["graph_precision"] == "fp32"
    assert result.settings["a"] == {"backend": "ort-cpu", "precision": "int8", "threads": 1}
