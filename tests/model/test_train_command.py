"""``maskaudit train`` refuses settings that cannot train before it reads any data."""

import pytest

from maskaudit.cli import main


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--minutes", "0"),
        ("--minutes", "-1"),
        ("--max-steps", "0"),
        ("--clips-per-step", "0"),
        ("--lr", "0"),
        ("--threads", "-1"),
        ("--eval-every", "0"),
        ("--val-fraction", "0"),
        ("--val-fraction", "1"),
        ("--category-weight", "-0.1"),
        ("--decoy-prob", "1.5"),
    ],
)
def test_out_of_range_settings_fail_with_the_option_named(tmp_path, capsys, option, value):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--data", str(tmp_path), "--out", str(out), option, value])
    assert exc.value.code == 2
    assert option in capsys.readouterr().err
    assert not out.exists()


def test_help_states_the_defaults(capsys):
    main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("default: 40.0;", "default: 20000;", "default: 8;", "default: 0.05;"):
        assert text in out
