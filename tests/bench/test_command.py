import json
import subprocess
import sys
import textwrap

import pytest

from maskaudit.cli import main


def run_cli(args, capsys):
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


def test_bench_prints_a_table_and_writes_json(tiny_bundle, tmp_path, capsys):
    out_json = tmp_path / "results" / "bench.json"
    args = [
        "bench",
        "--bundle",
        str(tiny_bundle),
        "--backend",
        "ort-cpu",
        "--precision",
        "int8,fp32",
        "--k",
        "1,2",
        "--warmup",
        "1",
        "--iterations",
        "3",
        "--frame-size",
        "160x120",
        "--json",
        str(out_json),
    ]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("| stage ") and "p50 ms" in lines[0] and "p99 ms" in lines[0]
    data = json.loads(out_json.read_text())
    assert data["kind"] == "latency"
    assert len(lines) == 2 + len(data["records"])  # header, rule, one row per record
    stages = {r["stage"] for r in data["records"]}
    assert {"frame_encoder", "audio_encoder", "audit_head", "end_to_end", "log_mel"} <= stages
    assert {r["precision"] for r in data["records"]} == {None, "int8", "fp32"}
    assert data["settings"]["frame_size"] == [160, 120]
    assert data["provenance"]["bundle"]["manifest_sha256"]
    assert "bench: end_to_end" in err  # progress goes to stderr


def test_compare_prints_the_speedup_and_its_spread(tiny_bundle, tmp_path, capsys):
    out_json = tmp_path / "cmp.json"
    args = [
        "bench",
        "--bundle",
        str(tiny_bundle),
        "--backend",
        "ort-cpu",
        "--stages",
        "audit_head",
        "--k",
        "2",
        "--warmup",
        "1",
        "--iterations",
        "2",
        "--repetitions",
        "3",
        "--compare",
        "precision=int8",
        "precision=fp32",
        "--json",
        str(out_json),
    ]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "A = ort-cpu/int8/1t, B = ort-cpu/fp32/1t" in out
    assert "A speed-up" in out and "IQR" in out
    (record,) = json.loads(out_json.read_text())["records"]
    assert f"{record['speedup']['median']:.2f}x" in out
    assert record["repetitions"] == 3


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--backend", "gpu-magic", "unknown value 'gpu-magic' in --backend"),
        ("--precision", "fp16", "unknown value 'fp16' in --precision"),
        ("--k", "0", "--k holds 0"),
        ("--stages", "decoder", "unknown value 'decoder' in --stages"),
    ],
)
def test_bad_options_give_one_line_and_exit_1(tiny_bundle, option, value, needle, capsys):
    code, out, err = run_cli(["bench", "--bundle", str(tiny_bundle), option, value], capsys)
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert needle in err and err.startswith("maskaudit: error:")
    assert out == ""


def test_bad_compare_spec_gives_one_line(tiny_bundle, capsys):
    args = ["bench", "--bundle", str(tiny_bundle), "--compare", "speed=fast", "precision=fp32"]
    code, _, err = run_cli(args, capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "KEY=VALUE" in err


def test_missing_bundle_gives_one_line(tmp_path, capsys):
    code, _, err = run_cli(["bench", "--bundle", str(tmp_path / "nope")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "does not exist" in err


def test_help_states_defaults(capsys):
    code, out, _ = run_cli(["bench", "--help"], capsys)
    assert code == 0
    for text in ("--warmup", "default: 5", "--iterations", "default: 30", "1,4,16", "--compare"):
        assert text in out


def test_bench_needs_no_torch(tiny_bundle):
    script = textwrap.dedent(
        """
        import sys

        class BlockTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError(f"torch is blocked in this test ({name})")
                return None

        sys.meta_path.insert(0, BlockTorch())
        import maskaudit.commands.bench
        from maskaudit.bench import BenchPlan, run_bench
        plan = BenchPlan(bundle=sys.argv[1], backends=("ort-cpu",), precisions=("int8",),
                         ks=(1,), warmup=0, iterations=1)
        assert run_bench(plan).records
        assert not [m for m in sys.modules if m.split(".")[0] == "torch"]
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiny_bundle)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
