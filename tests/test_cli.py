"""The `siamese-kit` command: argument errors, data commands, and a short demo run."""

import json
import os

import pytest

from siamese_kit.cli import main


def test_bad_arguments_exit_with_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--iterations", "0"])
    assert exit_info.value.code == 2
    assert "expected a positive integer, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "fetch", "cifar10"])
    assert "invalid choice: 'cifar10'" in capsys.readouterr().err


def test_data_where_reports_the_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path))
    assert main(["data", "where"]) == 0
    assert str(tmp_path) in capsys.readouterr().out


def test_demo_without_data_fails_cleanly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path / "empty"))
    assert main(["demo", "--iterations", "1", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "siamese-kit data fetch mnist" in err
    assert not (tmp_path / "run").exists()


def test_short_demo_writes_summary_and_pictures(mnist, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--iterations", "40", "--embedding-dim", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("test_centroid_accuracy", "iterations", "batch_size", "seconds", "device"):
        assert key in summary
    assert summary["iterations"] == 40 and summary["batch_size"] == 64
    assert 0.0 <= summary["test_centroid_accuracy"] <= 1.0
    for picture in ("prediction_grid.png", "embedding.png", "training_curve.png", "model.keras"):
        assert (out / picture).stat().st_size > 1000, picture
    assert "test nearest-centroid accuracy" in capsys.readouterr().out
