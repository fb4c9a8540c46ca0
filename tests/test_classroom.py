"""Offline classroom mode: `siamese-kit data fetch --all` from local copies into one shared folder, then
every loader finds everything through SIAMESE_KIT_DATA alone, with the network switched off."""

import hashlib
import os
import shutil
import socket
import struct
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import write_zip
from support import in_ci

import siamese_kit.data.sources.download as download_module
import siamese_kit.data.sources.mnist as fetch_module
from siamese_kit.cli import main
from siamese_kit.data import (
    OMNIGLOT_SPLITS,
    DataError,
    data_home,
    fetch_omniglot,
    load_dataset,
    load_lake_runs,
    load_omniglot,
    omniglot_dir,
)
from siamese_kit.data.sources.mnist import MNIST_MD5
from siamese_kit.data.sources.omniglot import OMNIGLOT_FILES, verify_omniglot_file


@pytest.fixture
def no_network(monkeypatch):
    """Every way out of the machine fails as it would offline, and each attempt is recorded: a probe
    that swallows the error (the online checks run in a thread) still fails the test afterwards."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    yield attempts
    assert attempts == [], f"network access attempted: {attempts}"


def _write_idx(folder, imageset, prefix):
    """The IDX files of an ImageSet (big-endian header: magic, count, rows, columns; then the bytes)."""
    images = imageset.images[..., 0]
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">4i", 0x803, *images.shape) + images.astype(np.uint8).tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">2i", 0x801, len(imageset)) + imageset.labels.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def local_sources(tmp_path_factory):
    """What a teacher has on a USB stick: the MNIST IDX files and the Omniglot zips, in two folders.

    MNIST comes from the data home's IDX files (the npm route of `make data`); where only a TFDS copy
    was fetched (the online route), its arrays are written back as IDX files, in TFDS's own order, so
    their digests are returned for the test to expect instead of the originals'."""
    mnist = data_home() / "mnist"
    omniglot = omniglot_dir()
    stick = tmp_path_factory.mktemp("stick")
    (stick / "mnist").mkdir()
    missing, digests = [], None
    if all((mnist / name).is_file() for name in MNIST_MD5):
        for name in MNIST_MD5:
            (stick / "mnist" / name).symlink_to(mnist / name)
    else:
        try:
            for split, prefix in (("train", "train"), ("test", "t10k")):
                _write_idx(stick / "mnist", load_dataset("mnist", split=split), prefix)
            digests = {name: hashlib.md5((stick / "mnist" / name).read_bytes()).hexdigest() for name in MNIST_MD5}
        except DataError:
            missing.append(f"MNIST in {mnist} (run `siamese-kit data fetch mnist`)")
    if omniglot is None or not all((omniglot / name).is_file() for name in OMNIGLOT_FILES):
        missing.append("the Omniglot zips and all_runs.zip in SIAMESE_KIT_OMNIGLOT")
    if missing:
        if in_ci():
            pytest.fail(f"CI=true and the classroom test lacks {' and '.join(missing)}")
        pytest.skip(f"missing {' and '.join(missing)}")
    return {"mnist": stick / "mnist", "omniglot": omniglot, "mnist_md5": digests}


@pytest.fixture
def mnist_digests(local_sources, monkeypatch):
    """MNIST's original digests, or those of the IDX files rebuilt from a TFDS copy."""
    if local_sources["mnist_md5"] is not None:
        monkeypatch.setattr(fetch_module, "MNIST_MD5", local_sources["mnist_md5"])


def test_fetch_all_from_local_copies_then_every_loader_works_offline(local_sources, mnist_digests, tmp_path,
                                                                     monkeypatch, no_network, capsys):
    shared = tmp_path / "classroom"
    args = ["data", "fetch", "--all", "--home", str(shared),
            "--from", f"mnist={local_sources['mnist']}", "--from", f"omniglot={local_sources['omniglot']}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"SIAMESE_KIT_DATA={shared.resolve()}" in out
    assert sorted(p.name for p in (shared / "omniglot").iterdir()) == sorted(OMNIGLOT_FILES)
    assert not any(p.is_symlink() for p in (shared / "omniglot").iterdir())  # copies: the stick can go

    # A student's kernel: only SIAMESE_KIT_DATA is set.
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(shared))
    monkeypatch.delenv("SIAMESE_KIT_OMNIGLOT", raising=False)
    assert omniglot_dir() == shared / "omniglot"
    test_set = load_dataset("mnist", split="test")
    assert len(test_set) == 10_000 and test_set.class_names[:3] == ("0", "1", "2")
    sizes = {}
    for split in OMNIGLOT_SPLITS:
        sizes[split] = len(load_omniglot(split, image_size=28))
    assert sizes == {name[: -len(".zip")]: count for name, (_, _, count) in OMNIGLOT_FILES.items()
                     if name != "all_runs.zip"}
    runs = load_lake_runs(image_size=28)
    assert len(runs) == 20 and runs[0].support_images.shape == (20, 28, 28, 1)
    assert sum(len(run.answers) for run in runs) == 400

    # Fetching again changes nothing and still needs no network.
    before = {p.name: p.stat().st_mtime_ns for p in (shared / "omniglot").iterdir()}
    assert main(["data", "fetch", "--all", "--home", str(shared),
                 "--from", f"mnist={local_sources['mnist']}"]) == 0
    assert "already" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (shared / "omniglot").iterdir()} == before


def test_one_source_folder_and_links(local_sources, mnist_digests, tmp_path, no_network):
    # The layout `--from FOLDER` searches: FOLDER/mnist/ and FOLDER/omniglot/.
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "mnist").symlink_to(local_sources["mnist"])
    (stick / "omniglot").symlink_to(local_sources["omniglot"])
    home = tmp_path / "home"
    assert main(["data", "fetch", "--all", "--home", str(home), "--from", str(stick), "--link"]) == 0
    installed = sorted((home / "omniglot").iterdir())
    assert [p.name for p in installed] == sorted(OMNIGLOT_FILES)
    assert all(p.is_symlink() and p.resolve() == (local_sources["omniglot"] / p.name).resolve() for p in installed)
    assert len(load_lake_runs(path=home / "omniglot", image_size=14)) == 20


def test_fetch_omniglot_refuses_a_damaged_copy_and_keeps_what_is_installed(local_sources, tmp_path, no_network):
    home = tmp_path / "home"
    fetch_omniglot(home=home, source=local_sources["omniglot"])
    good = (home / "omniglot" / "images_background_small1.zip").read_bytes()
    bad_source = tmp_path / "bad"
    bad_source.mkdir()
    for name in OMNIGLOT_FILES:
        shutil.copy(local_sources["omniglot"] / name, bad_source / name)
    # A truncated copy of one zip, and the installed one damaged so that it must be replaced.
    (bad_source / "images_background_small2.zip").write_bytes(
        (local_sources["omniglot"] / "images_background_small2.zip").read_bytes()[:200_000])
    (home / "omniglot" / "images_background_small2.zip").write_bytes(b"damaged")
    with pytest.raises(DataError, match=r"images_background_small2\.zip.*(neither a folder nor a readable|PNG)"):
        fetch_omniglot(home=home, source=bad_source)
    assert (home / "omniglot" / "images_background_small1.zip").read_bytes() == good
    assert (home / "omniglot" / "images_background_small2.zip").read_bytes() == b"damaged"
    assert not [p for p in (home / "omniglot").iterdir() if p.name.startswith(".")], "no staging left behind"

    # A zip with the right name but too few characters is caught by its contents.
    fake = write_zip(tmp_path / "all_runs.zip", {"run01/class_labels.txt": b"", "run01/test/item01.png": b"x"})
    with pytest.raises(DataError, match=r"holds 1 PNG files where all_runs\.zip has 800"):
        verify_omniglot_file(fake, "all_runs.zip")


def test_downloads_must_match_the_published_digest(local_sources, tmp_path, monkeypatch):
    """The download route, with GitHub replaced by local bytes: the original small1 zip (whose sha256 is
    the published one) is accepted; a re-packed background zip, fine from --from, is refused online."""
    served = []

    class Response:
        def __init__(self, path):
            self.file = open(path, "rb")

        def read(self, size):
            return self.file.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    def fake_urlopen(url, timeout):
        served.append(url)
        return Response(local_sources["omniglot"] / url.rsplit("/", 1)[-1])

    monkeypatch.setattr(download_module.urllib.request, "urlopen", fake_urlopen)
    home = tmp_path / "home"
    fetch_omniglot(home=home, source=local_sources["omniglot"])
    (home / "omniglot" / "images_background_small1.zip").unlink()
    fetch_omniglot(home=home)
    assert served == [OMNIGLOT_FILES["images_background_small1.zip"][0]]
    assert verify_omniglot_file(home / "omniglot" / "images_background_small1.zip", "images_background_small1.zip",
                                require_digest=True) == "sha256 of the original release"

    (home / "omniglot" / "images_background.zip").unlink()
    with pytest.raises(DataError, match="is not the published"):
        fetch_omniglot(home=home)
    assert not (home / "omniglot" / "images_background.zip").exists()


def test_bad_fetch_arguments_are_refused_with_the_fix(tmp_path, capsys):
    cases = [
        (["data", "fetch"], "or pass --all"),
        (["data", "fetch", "mnist", "--all"], "not both"),
        (["data", "fetch", "mnist", "--from", "omniglot=/x"], "use --all"),
        (["data", "fetch", "mnist", "--link", "--from", str(tmp_path)], "--link applies to omniglot only"),
        (["data", "fetch", "--all", "--from", str(tmp_path / "a"), "--from", str(tmp_path / "b")], "one PATH"),
        (["data", "fetch", "omniglot", "--home", str(tmp_path), "--link"], "pass source= (--from) too"),
        (["data", "fetch", "omniglot", "--home", str(tmp_path), "--from", str(tmp_path / "nowhere")], "is not a folder"),
        (["data", "fetch", "omniglot", "--home", str(tmp_path / "h"), "--from", str(tmp_path)], "lacks images_background.zip"),
    ]
    for args, words in cases:
        assert main(args) == 1, args
        assert words in capsys.readouterr().err, args
    assert not (tmp_path / "h" / "omniglot").exists() or not any((tmp_path / "h" / "omniglot").iterdir())


def test_a_source_zip_with_unsafe_members_is_refused(tmp_path, no_network):
    source = tmp_path / "source"
    source.mkdir()
    with zipfile.ZipFile(source / "all_runs.zip", "w") as archive:
        archive.writestr("../run01/class_labels.txt", b"")
    with pytest.raises(DataError, match=r"refusing member '\.\./run01"):
        verify_omniglot_file(source / "all_runs.zip", "all_runs.zip")
    with pytest.raises(DataError, match="filename must be one of"):
        verify_omniglot_file(source / "all_runs.zip", "runs.zip")
