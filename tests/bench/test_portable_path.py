from pathlib import Path

from maskaudit.bench.provenance import bundle_identity, portable_path
from maskaudit.runtime.bundle import default_bundle_path, load_bundle


def test_the_shipped_bundle_is_named_by_its_place_in_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert portable_path(default_bundle_path()) == "maskaudit/assets/default"
    assert bundle_identity(load_bundle(None))["path"] == "maskaudit/assets/default"


def test_paths_under_the_working_directory_become_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert portable_path(tmp_path / "runs" / "bundle") == "runs/bundle"
    assert portable_path(Path("runs/bundle")) == "runs/bundle"


def test_other_paths_are_kept(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    elsewhere = tmp_path / "elsewhere" / "bundle"
    assert portable_path(elsewhere) == str(elsewhere)
