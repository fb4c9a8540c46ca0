"""A gallery's cache: zip galleries, per-file content keys (only new or changed images embedded, a change
with preserved times still seen), relative and absolute paths alike, stale and damaged caches handled."""

import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from siamese_kit.search import EmbeddingIndex, Gallery, Verifier

from test_gallery import MeanBrightness, grey


class CountingBrightness(MeanBrightness):
    """MeanBrightness that counts the images it embeds."""

    def __init__(self):
        self.embedded = 0

    def embed(self, images):
        result = super().embed(images)
        self.embedded += len(result)
        return result


@pytest.fixture
def run(tmp_path):
    model_file = tmp_path / "run" / "model.keras"
    model_file.parent.mkdir()
    model_file.write_bytes(b"weights v1")
    return model_file


def verifier_of(model_file, model=None):
    return Verifier(model or CountingBrightness(), threshold=10.0, image_shape=(8, 8, 1), model_path=model_file)


def two_classes(root):
    for name, value in (("dark", 20), ("mid", 100)):
        for i in range(3):
            grey(root / name / f"{i}.png", value + i)
    return root


def test_a_zip_gallery_identifies_as_its_folder_does(tmp_path, run):
    folder = two_classes(tmp_path / "gallery")
    archive = tmp_path / "gallery.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*.png")):
            z.write(path, path.relative_to(tmp_path).as_posix())
    query = grey(tmp_path / "q" / "near_dark.png", 23)
    from_folder = Gallery(verifier_of(run), folder, cache_dir=run.parent).identify([query], top_k=2)
    from_zip = Gallery(verifier_of(run), archive, cache_dir=run.parent)
    assert from_zip.identify([query], top_k=2) == from_folder
    again = Gallery(verifier_of(run), archive, cache_dir=run.parent)  # the zip's cache: nothing embedded again
    assert again.update.embedded == 0 and again.verifier.model.embedded == 0


def test_enrolling_a_class_embeds_only_its_images_and_removals_are_said(tmp_path, run):
    folder = two_classes(tmp_path / "gallery")
    first = Gallery(verifier_of(run), folder, cache_dir=run.parent)
    assert first.update.embedded == 6 and first.update.reason == "no cache yet"
    for i in range(2):
        grey(folder / "light" / f"{i}.png", 200 + i)
    (folder / "mid" / "2.png").unlink()
    second = Gallery(verifier_of(run), folder, cache_dir=run.parent)
    assert second.verifier.model.embedded == 2
    assert second.update.added == ["light/0.png", "light/1.png"] and second.update.removed == ["mid/2.png"]
    assert second.update.changed == []
    np.testing.assert_allclose(second.embeddings, MeanBrightness().embed(second.imageset.images))
    query = grey(tmp_path / "q" / "light.png", 201)
    assert second.identify([query], top_k=1)[0]["identity"] == "light"


def test_a_file_changed_with_its_times_preserved_is_still_seen(tmp_path, run):
    folder = two_classes(tmp_path / "gallery")
    Gallery(verifier_of(run), folder, cache_dir=run.parent)
    target = folder / "dark" / "0.png"
    times = os.stat(target)
    Image.new("L", (8, 8), 150).save(target)  # same size on disk, new content
    os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
    again = Gallery(verifier_of(run), folder, cache_dir=run.parent)
    assert again.update.changed == ["dark/0.png"] and again.verifier.model.embedded == 1
    assert again.embeddings[list(again.imageset.paths).index(str(target))][0] == pytest.approx(150.0)


def test_relative_and_absolute_paths_share_one_cache(tmp_path, run, monkeypatch):
    folder = two_classes(tmp_path / "gallery")
    Gallery(verifier_of(run), folder.resolve(), cache_dir=run.parent)
    monkeypatch.chdir(tmp_path)
    relative = Gallery(verifier_of(run), "gallery", cache_dir=run.parent)
    assert relative.update.embedded == 0 and len(list(run.parent.glob("gallery-*.npz"))) == 1


def test_a_new_model_re_embeds_and_stale_or_damaged_caches_are_handled(tmp_path, run):
    folder = two_classes(tmp_path / "gallery")
    old_cache = run.parent / "gallery-0123456789abcdef.npz"  # an earlier version's cache, and its graph folder
    old_cache.write_bytes(b"old")
    (run.parent / "gallery-0123456789abcdef-index").mkdir()
    gone = two_classes(tmp_path / "gone")
    Gallery(verifier_of(run), gone, cache_dir=run.parent)
    first = Gallery(verifier_of(run), folder, cache_dir=run.parent)
    for path in gone.rglob("*.png"):
        path.unlink()
    for path in sorted(gone.rglob("*"), reverse=True):
        path.rmdir()
    gone.rmdir()
    run.write_bytes(b"weights v2")
    retrained = Gallery(verifier_of(run), folder, cache_dir=run.parent)
    assert retrained.update.reason == "the model changed" and retrained.update.embedded == 6
    # The old version's files and the cache of a gallery that no longer exists are gone; ours is kept.
    assert sorted(p.name for p in run.parent.glob("gallery-*")) == [first.update.cache.name]
    first.update.cache.write_bytes(b"PK\x03\x04 damaged")
    damaged = Gallery(verifier_of(run), folder, cache_dir=run.parent)
    assert damaged.update.reason.startswith("the cache could not be read") and damaged.update.embedded == 6


def test_a_damaged_or_foreign_graph_file_is_refused_with_its_fix(tmp_path):
    faiss = pytest.importorskip("faiss")
    embeddings = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    folder = EmbeddingIndex(embeddings, kind="hnsw").save(tmp_path / "index")
    (folder / "hnsw.faiss").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match=r"cannot be read as an HNSW graph.*delete .*index and save the index again"):
        EmbeddingIndex.load(folder)
    faiss.write_index(faiss.IndexFlatL2(4), str(folder / "hnsw.faiss"))
    with pytest.raises(ValueError, match="holds a IndexFlatL2, not the HNSW graph"):
        EmbeddingIndex.load(folder)


def test_enrol_says_what_it_added_changed_and_removed(tmp_path, run, monkeypatch, capsys):
    from siamese_kit import cli
    from siamese_kit.search import gallery as gallery_module

    folder = two_classes(tmp_path / "gallery")
    monkeypatch.setattr(gallery_module.Verifier, "from_run", classmethod(lambda cls, path: verifier_of(run)))
    assert cli.main(["enrol", str(run.parent), str(folder)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["images"], first["added"], first["embedded"], first["reason"]) == (6, 6, 6, "no cache yet")
    grey(folder / "light" / "0.png", 200)
    (folder / "dark" / "1.png").unlink()
    assert cli.main(["enrol", str(run.parent), str(folder)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["added_files"], second["removed_files"], second["embedded"]) == (["light/0.png"], ["dark/1.png"], 1)
    assert second["classes"] == 3 and "reason" not in second


def test_an_up_to_date_gallery_decodes_no_image(tmp_path, run, monkeypatch):
    from siamese_kit.search import gallery as gallery_module

    folder = two_classes(tmp_path / "gallery")
    Gallery(verifier_of(run), folder, cache_dir=run.parent)

    def refuse(*args, **kwargs):
        raise AssertionError("a cached gallery was decoded again")

    monkeypatch.setattr(gallery_module, "read_folder_members", refuse)
    again = Gallery(verifier_of(run), folder, cache_dir=run.parent)
    query = grey(tmp_path / "q" / "near_mid.png", 101)
    assert again.identify([query], top_k=1)[0]["identity"] == "mid"


@pytest.mark.parametrize("as_zip", [False, True])
def test_the_listing_finds_what_reading_the_folder_finds(tmp_path, as_zip):
    from siamese_kit.data.sources.folders import list_image_folder, read_folder_members, read_image_folder

    folder = two_classes(tmp_path / "data" / "gallery")  # a lone top folder, as zips often have
    (folder / "notes.txt").write_text("not an image")
    (folder / "mid" / ".hidden.png").write_bytes(b"")
    (folder / "empty_class").mkdir()
    source = folder.parent
    if as_zip:
        source = tmp_path / "gallery.zip"
        with zipfile.ZipFile(source, "w") as z:
            for path in sorted(p for p in (tmp_path / "data").rglob("*") if p.is_file()):
                z.write(path, path.relative_to(tmp_path / "data").as_posix())
            z.writestr("gallery/empty_class/", "")
    listing = list_image_folder(source)
    contents = read_image_folder(source, (8, 8))
    assert listing.paths == contents.imageset.paths and listing.members == contents.members
    np.testing.assert_array_equal(listing.labels, contents.imageset.labels)
    assert listing.class_names == contents.imageset.class_names == ("dark", "empty_class", "mid")
    np.testing.assert_array_equal(read_folder_members(source, listing.members[::-1], (8, 8)),
                                  contents.imageset.images[::-1])
