"""siamese-kit export: a small run's tower and pair score in each format, checked with that format's runtime
against the .keras model (embeddings within 1e-5, the same decisions on 10,000 test pairs), decision.json
deciding as verify does, and the refusals that leave nothing half-written."""

import json

import numpy as np
import pytest

from siamese_kit.cli import main
from siamese_kit.data.imageset import DataError
from siamese_kit.export import EMBEDDING_TOLERANCE, ExportedVerifier, export_run, runtime
from siamese_kit.search import Verifier

FORMATS = ("saved_model", "onnx", "litert")


def run_command(*argv):
    return main([str(a) for a in argv])


def trained_run(digit_folder, out, recipe):
    assert run_command("train", "--data", digit_folder, "--recipe", recipe, "--image-size", 28, 28, "--split", "images",
                       "--set", "iterations=100", "--checkpoint-every", 0, "--out", out) == 0
    assert run_command("evaluate", out) == 0
    return out


@pytest.fixture(scope="module")
def contrastive_run(digit_folder, tmp_path_factory):
    return trained_run(digit_folder, tmp_path_factory.mktemp("runs") / "contrastive", "contrastive")


@pytest.mark.parametrize("export_format", FORMATS)
def test_each_format_embeds_and_decides_as_the_keras_model(contrastive_run, digit_folder, tmp_path, capsys,
                                                           export_format):
    out = tmp_path / export_format
    capsys.readouterr()
    assert run_command("export", contrastive_run, "--format", export_format, "--out", out) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    check = printed["check"]
    assert check["pairs"] == 10_000 and check["decisions_differing"] == 0
    assert check["max_embedding_difference"] <= EMBEDDING_TOLERANCE

    decision = json.loads((out / "decision.json").read_text())
    report = json.loads((contrastive_run / "report.json").read_text())
    assert decision["threshold"] == report["threshold"] and decision["score_kind"] == "distance"
    assert decision["same_when"] == "score < threshold"
    assert decision["image_size"] == [28, 28] and decision["color_mode"] == "grayscale"
    assert sorted(path.name for path in out.iterdir()) == sorted(["decision.json", *decision["files"].values()])

    # A service holding only OUT decides every pair as verify does, reading the files as decision.json says.
    exported, original = ExportedVerifier(out), Verifier.from_run(contrastive_run)
    files = [digit_folder / f"d{label}" / f"{i}.png" for label in (1, 7) for i in (0, 1, 2)]
    for first, second in zip(files, files[1:] + files[:1]):
        ours, theirs = exported.verify(first, second), original.verify(first, second)
        assert ours["same"] == theirs["same"] and ours["score"] == pytest.approx(theirs["score"], abs=1e-5)


def test_the_exported_tower_runs_batches_of_any_size(contrastive_run, tmp_path):
    out = tmp_path / "onnx"
    export_run(contrastive_run, "onnx", out, num_pairs=200)
    tower = runtime("onnx", out / "tower.onnx")
    images = np.random.default_rng(0).uniform(0, 255, (7, 28, 28, 1)).astype(np.float32)
    model = Verifier.from_run(contrastive_run).model
    np.testing.assert_allclose(tower(images), model.embed(images), atol=EMBEDDING_TOLERANCE)
    np.testing.assert_allclose(tower(images[:1]), model.embed(images[:1]), atol=EMBEDDING_TOLERANCE)


@pytest.mark.parametrize("recipe", ["twin", "one-shot"])
def test_a_twin_head_and_a_batch_loss_tower_export_too(digit_folder, tmp_path, recipe):
    """The twin classifier's score is its head (similarity, large = same); the one-shot tower's is a distance."""
    run = trained_run(digit_folder, tmp_path / recipe, recipe)
    decision = export_run(run, "litert", tmp_path / "out", num_pairs=2_000)
    assert decision["check"]["decisions_differing"] == 0
    assert decision["check"]["max_embedding_difference"] <= EMBEDDING_TOLERANCE
    assert decision["score_kind"] == ("similarity" if recipe == "twin" else "distance")
    assert decision["same_when"] == ("score >= threshold" if recipe == "twin" else "score < threshold")


def test_an_existing_out_is_refused_and_left_as_it_was(contrastive_run, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run_command("export", contrastive_run, "--format", "saved_model", "--out", out) == 1
    assert "already exists" in capsys.readouterr().err
    assert [path.name for path in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"


def test_a_run_without_a_threshold_names_the_evaluate_command(digit_folder, tmp_path):
    run = tmp_path / "run"
    assert run_command("train", "--data", digit_folder, "--recipe", "contrastive", "--image-size", 28, 28,
                       "--split", "images", "--set", "iterations=5", "--checkpoint-every", 0, "--out", run) == 0
    (run / "report.json").unlink()
    with pytest.raises(DataError, match="siamese-kit evaluate"):
        export_run(run, "onnx", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_export_that_disagrees_is_refused_and_nothing_lands(contrastive_run, tmp_path, monkeypatch):
    """A runtime that drifts by more than the tolerance fails the check; OUT and its staging folder are gone."""
    import siamese_kit.export as export

    honest = export.runtime

    def drifting(export_format, path):
        run = honest(export_format, path)
        return (lambda batch: run(batch) + 1e-3) if "tower" in str(path) else run

    monkeypatch.setattr(export, "runtime", drifting)
    with pytest.raises(DataError, match="disagree"):
        export_run(contrastive_run, "saved_model", tmp_path / "out", num_pairs=200)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_format_is_refused(contrastive_run, tmp_path):
    with pytest.raises(DataError, match="saved_model, onnx, litert"):
        export_run(contrastive_run, "pickle", tmp_path / "out")
