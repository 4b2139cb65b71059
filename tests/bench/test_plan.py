import pytest

from maskaudit.bench.plan import (
    STAGES,
    BenchConfig,
    BenchPlan,
    parse_config,
    parse_ints,
    parse_names,
    parse_size,
)
from maskaudit.errors import ConfigError


def test_lists_parse_in_order_without_repeats():
    assert parse_ints("1, 4,16,4", "--k") == (1, 4, 16)
    assert parse_names("int8,fp32,", "--precision") == ("int8", "fp32")
    assert parse_size("1280x720") == (1280, 720)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: parse_ints("1,x", "--k"), "--k"),
        (lambda: parse_names(" , ", "--backend"), "--backend"),
        (lambda: parse_size("640by480"), "--frame-size"),
        (lambda: BenchPlan(backends=("gpu-magic",)), "gpu-magic"),
        (lambda: BenchPlan(precisions=("fp16",)), "fp16"),
        (lambda: BenchPlan(stages=("decoder",)), "decoder"),
        (lambda: BenchPlan(ks=(0,)), "--k"),
        (lambda: BenchPlan(batches=(0,)), "--batch"),
        (lambda: BenchPlan(threads=(0,)), "--threads"),
        (lambda: BenchPlan(iterations=0), "--iterations"),
        (lambda: BenchPlan(warmup=-1), "--warmup"),
    ],
)
def test_bad_values_name_the_option(call, needle):
    with pytest.raises(ConfigError, match=needle.replace("-", r"\-")):
        call()


def test_default_plan_covers_every_stage():
    plan = BenchPlan()
    assert plan.stages == STAGES
    assert plan.ks == (1, 4, 16)
    assert plan.to_dict()["inter_op_threads"] == 1


def test_config_spec_changes_only_what_it_names():
    base = BenchConfig("ort-cpu", "int8", 1)
    assert parse_config("precision=fp32", base) == BenchConfig("ort-cpu", "fp32", 1)
    assert parse_config("threads=2,backend=auto", base) == BenchConfig("auto", "int8", 2)
    assert parse_config("precision=fp32", base).label() == "ort-cpu/fp32/1t"


@pytest.mark.parametrize(
    "spec", ["precision", "speed=fast", "precision=fp16", "backend=gpu", "threads=0", "threads=a"]
)
def test_bad_config_spec_is_refused(spec):
    with pytest.raises(ConfigError):
        parse_config(spec, BenchConfig())
