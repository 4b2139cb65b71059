import pytest

from maskaudit.data.stats import benchmark_stats, format_stats, main
from maskaudit.errors import DataError


def test_stats_of_a_tiny_benchmark(synth_root, capsys):
    stats = benchmark_stats(synth_root, "train")
    assert stats["expressions"] == sum(stats["kinds"].values()) > 0
    for key in ("largest", "central", "moving", "chance"):
        assert 0.0 <= stats[key] <= 1.0
    assert 2 <= stats["objects"] <= 4 and 1 <= stats["sounding"] <= stats["objects"]
    text = format_stats(stats)
    assert "the largest object" in text and "| kind | expressions |" in text
    main([str(synth_root), "--split", "test_s"])
    assert "Split test_s" in capsys.readouterr().out


def test_stats_need_a_sidecar(tmp_path):
    with pytest.raises(DataError, match="synth_scenes.json"):
        benchmark_stats(tmp_path)
    with pytest.raises(SystemExit):
        main([str(tmp_path)])
