import math

import numpy as np
import pytest

from maskaudit.bench.stats import ratio_spread, summarise


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_are_ordered_and_bounded(seed):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 1.0, size=int(rng.integers(1, 60)))
    s = summarise(values, items_per_call=3)
    assert s["min_ms"] <= s["p50_ms"] <= s["p90_ms"] <= s["p95_ms"] <= s["p99_ms"] <= s["max_ms"]
    assert s["samples"] == values.size
    assert s["mean_ms"] == pytest.approx(values.mean())
    assert s["throughput"] == pytest.approx(3 * 1000.0 / values.mean())


def test_summary_of_known_values():
    s = summarise([1.0, 2.0, 3.0, 4.0])
    assert s["p50_ms"] == 2.5
    assert s["mean_ms"] == 2.5
    assert s["std_ms"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert s["throughput"] == pytest.approx(400.0)
    assert summarise([5.0])["std_ms"] == 0.0


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [1.0, math.nan]])
def test_summary_refuses_bad_samples(bad):
    with pytest.raises(ValueError):
        summarise(bad)


def test_ratio_is_per_repetition_medians():
    a = [[2.0, 2.0, 9.0], [4.0, 4.0, 4.0], [3.0, 3.0, 1.0]]
    b = [[1.0, 1.0, 1.0], [1.0, 2.0, 3.0], [3.0, 3.0, 3.0]]
    out = ratio_spread(a, b)
    assert out["repetitions"] == 3
    assert out["latency_ratio"]["per_repetition"] == [2.0, 2.0, 1.0]
    assert out["latency_ratio"]["median"] == 2.0
    assert out["speedup"]["per_repetition"] == [0.5, 0.5, 1.0]
    for key in ("latency_ratio", "speedup"):
        spread = out[key]
        assert spread["min"] <= spread["q25"] <= spread["median"] <= spread["q75"] <= spread["max"]


def test_ratio_ignores_a_shared_slowdown():
    # the machine gets 3x slower in repetition 2: both sides slow down, the ratio does not
    a = [[2.0] * 4, [6.0] * 4, [2.0] * 4]
    b = [[4.0] * 4, [12.0] * 4, [4.0] * 4]
    out = ratio_spread(a, b)
    assert out["speedup"]["median"] == 2.0
    assert out["speedup"]["q25"] == out["speedup"]["q75"] == 2.0


def test_ratio_refuses_mismatched_repetitions():
    with pytest.raises(ValueError):
        ratio_spread([[1.0], [1.0]], [[1.0]])
    with pytest.raises(ValueError):
        ratio_spread([[1.0], []], [[1.0], [1.0]])
