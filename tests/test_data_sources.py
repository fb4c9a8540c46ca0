"""Tests of the IDX and TFDS loaders (siamese_kit.data.sources) and of ImageSet's checks, on small synthetic files."""

import gzip
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from siamese_kit.data import DataError, ImageSet, load_idx, load_image_folder, load_tfds, read_idx

IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array):
    """IDX encoding of `array` (big-endian header and values)."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype.str[1:]], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=False):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_mnist_like(folder, n_train=6, n_test=4, gz=False, test_prefix="t10k", sep="-"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), (test_prefix, n_test)):
        write_idx(
            folder / f"{prefix}-images{sep}idx3-ubyte{suffix}",
            rng.integers(0, 256, (n, 5, 4), dtype=np.uint8),
            gz,
        )
        labels = np.arange(n, dtype=np.uint8) % 3
        write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels, gz)
    return folder


def png_bytes(size=(6, 8), value=0, mode="L"):
    """PNG of `size` (height, width) filled with `value`."""
    import io

    buffer = io.BytesIO()
    color = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, (size[1], size[0]), color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_class_folder(root, classes=None, size=(6, 8)):
    """root/<class>/<i>.png with each class's images filled with a class-specific grey."""
    classes = classes or {"b": 2, "a": 3, "c": 2}
    for c, n in classes.items():
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / c / f"{i}.png").write_bytes(png_bytes(size, value=10 * (ord(c) - ord("a") + 1)))
    return root


# ----------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_every_type(tmp_path, dtype, gz):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    out = read_idx(write_idx(tmp_path / "x-idx3", array, gz))
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 1  # writable


def test_read_idx_detects_gzip_by_content_not_suffix(tmp_path):
    array = np.arange(6, dtype=np.uint8)
    gz_without_suffix = write_idx(tmp_path / "labels-idx1-ubyte", array, gz=True)
    plain_with_suffix = write_idx(tmp_path / "labels-idx1-ubyte.gz", array, gz=False)
    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(plain_with_suffix), array)


def test_read_idx_missing_file_names_path_and_fetch(tmp_path):
    with pytest.raises(DataError) as e:
        read_idx(tmp_path / "nope-idx3-ubyte")
    assert "nope-idx3-ubyte" in str(e.value)
    assert "siamese-kit data fetch mnist" in str(e.value)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated_says_expected_and_found(tmp_path, gz, monkeypatch):
    """A damaged copy of the fetched MNIST says fetch again; a user's own IDX file never does."""
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path / "home"))
    data = idx_bytes(np.zeros((3, 4, 5), np.uint8))[:-7]
    fetched = tmp_path / "home" / "mnist" / "train-images-idx3-ubyte"
    own = tmp_path / "letters" / "short-idx3-ubyte"
    written = gzip.compress(data) if gz else data
    for path in (fetched, own):
        path.parent.mkdir(parents=True)
        path.write_bytes(written)
    with pytest.raises(DataError) as e:
        read_idx(own)
    message = str(e.value)
    assert "short-idx3-ubyte" in message and "truncated" in message
    assert "60 bytes" in message and "53 bytes" in message
    assert "good copy from where you got it" in message
    assert "fetch mnist" not in message and "elete" not in message
    with pytest.raises(DataError, match="download it again with `siamese-kit data fetch mnist`"):
        read_idx(fetched)
    assert own.read_bytes() == written


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "tiny-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="tiny-idx3-ubyte is truncated"):
        read_idx(path)


def test_read_idx_extra_bytes(tmp_path):
    path = tmp_path / "long-idx1-ubyte"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"xx")
    with pytest.raises(DataError, match="long-idx1-ubyte has extra bytes"):
        read_idx(path)


@pytest.mark.parametrize("start", [b"\x89PNG\r\n", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b""])
def test_read_idx_bad_magic(tmp_path, start):
    path = tmp_path / "photo.idx"
    path.write_bytes(start + b"\x00" * 8 if start else b"")
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert "photo.idx is not an IDX file" in str(e.value)
    assert "00 00" in str(e.value)


def test_read_idx_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros((10, 10), np.uint8)))
    path = tmp_path / "broken-idx2-ubyte.gz"
    path.write_bytes(good[:12] + b"garbage!" * 3)
    with pytest.raises(DataError) as e:
        read_idx(path)
    assert "broken-idx2-ubyte.gz is a damaged gzip" in str(e.value)
    assert "good copy" in str(e.value) and "elete" not in str(e.value)
    assert path.read_bytes() == good[:12] + b"garbage!" * 3


# ----------------------------------------------------------------------------- load_idx


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_train_and_test(tmp_path, gz):
    folder = write_mnist_like(tmp_path / "mnist", gz=gz)
    train = load_idx(folder)
    test = load_idx(folder, split="test")
    assert train.name == "mnist/train" and test.name == "mnist/test"
    assert len(train) == 6 and len(test) == 4
    assert train.image_shape == (5, 4, 1) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.labels, [0, 1, 2, 0, 1, 2])
    assert train.class_names == ("0", "1", "2")


def test_load_idx_accepts_test_prefix_and_dot_naming(tmp_path):
    folder = write_mnist_like(tmp_path / "fashion", test_prefix="test", sep=".")
    assert len(load_idx(folder, "test")) == 4
    named = load_idx(folder, "train", name="mine", class_names=["x", "y", "z"])
    assert named.name == "mine" and named.class_names == ("x", "y", "z")


def test_load_idx_missing_folder(tmp_path):
    with pytest.raises(DataError) as e:
        load_idx(tmp_path / "nowhere")
    assert "nowhere" in str(e.value) and "siamese-kit data fetch mnist" in str(e.value)


def test_load_idx_missing_labels_names_what_was_looked_for(tmp_path):
    folder = write_mnist_like(tmp_path / "mnist")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as e:
        load_idx(folder, "test")
    message = str(e.value)
    assert "t10k-labels-idx1-ubyte" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(folder) in message


def test_load_idx_unknown_split(tmp_path):
    folder = write_mnist_like(tmp_path / "mnist")
    with pytest.raises(DataError, match="split must be one of"):
        load_idx(folder, "validation")


def test_load_idx_count_mismatch_names_both_files(tmp_path):
    folder = write_mnist_like(tmp_path / "mnist")
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError) as e:
        load_idx(folder)
    message = str(e.value)
    assert "train-images-idx3-ubyte holds 6 images" in message
    assert "train-labels-idx1-ubyte holds 5 labels" in message


def test_load_idx_rejects_non_uint8_images_and_2d_labels(tmp_path):
    folder = write_mnist_like(tmp_path / "mnist")
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((6, 5, 4), np.float32))
    with pytest.raises(DataError, match="must hold uint8 images"):
        load_idx(folder)
    write_mnist_like(folder)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros((6, 2), np.uint8))
    with pytest.raises(DataError, match="one label per image"):
        load_idx(folder)


# ----------------------------------------------------------------------------- load_image_folder


def test_image_folder_labels_follow_sorted_folder_names(tmp_path):
    root = make_class_folder(tmp_path / "shapes")
    (root / "a" / ".hidden.png").write_bytes(b"not even an image")
    (root / "a" / "notes.txt").write_text("ignored")
    (root / ".git").mkdir()
    (root / ".git" / "x.png").write_bytes(b"ignored too")
    data = load_image_folder(root)
    assert data.name == "shapes"
    assert data.class_names == ("a", "b", "c")
    assert data.image_shape == (6, 8, 1) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.class_counts(), [3, 2, 2])
    # Each class's images were filled with its own grey, so pixels prove the label mapping.
    for label, grey in enumerate((10, 20, 30)):
        assert (data.images[data.labels == label] == grey).all()


def test_image_folder_accepts_every_suffix_and_nested_files(tmp_path):
    root = tmp_path / "d"
    for c, fmt, suffix in (("x", "JPEG", ".JPG"), ("y", "BMP", ".bmp"), ("z", "GIF", ".gif")):
        (root / c / "deeper").mkdir(parents=True)
        for target in (root / c / f"1{suffix}", root / c / "deeper" / f"2{suffix}"):
            Image.new("L", (8, 6), 100).save(target, format=fmt)
    data = load_image_folder(root)
    np.testing.assert_array_equal(data.class_counts(), [2, 2, 2])


def test_image_folder_rgb_has_three_channels(tmp_path):
    root = make_class_folder(tmp_path / "d")
    data = load_image_folder(root, color_mode="rgb")
    assert data.image_shape == (6, 8, 3)


def test_image_folder_resize(tmp_path):
    root = make_class_folder(tmp_path / "d")
    (root / "a" / "big.png").write_bytes(png_bytes((20, 30), value=10))
    data = load_image_folder(root, image_size=(4, 5))
    assert data.image_shape == (4, 5, 1) and len(data) == 8


def test_image_folder_mixed_sizes_names_both_files(tmp_path):
    root = make_class_folder(tmp_path / "d")
    (root / "b" / "odd.png").write_bytes(png_bytes((9, 7)))
    with pytest.raises(DataError) as e:
        load_image_folder(root)
    message = str(e.value)
    assert "0.png" in message and "odd.png" in message
    assert "6x8" in message and "9x7" in message
    assert "image_size=" in message


def test_image_folder_corrupt_png_named(tmp_path):
    root = make_class_folder(tmp_path / "d")
    (root / "c" / "bad.png").write_bytes(png_bytes()[:30])
    with pytest.raises(DataError) as e:
        load_image_folder(root)
    assert str(root / "c" / "bad.png") in str(e.value)
    assert "Replace it with a readable image" in str(e.value)
    assert "delete" not in str(e.value)  # the user's own file: never advise deleting it


def test_image_folder_not_an_image_named_without_buffer_repr(tmp_path):
    root = make_class_folder(tmp_path / "d")
    (root / "c" / "notes.png").write_bytes(b"not really a png")
    with pytest.raises(DataError) as e:
        load_image_folder(root)
    assert "not an image format Pillow can read" in str(e.value)
    assert "BytesIO" not in str(e.value) and " at 0x" not in str(e.value)


def test_image_folder_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as e:
        load_image_folder(tmp_path / "empty")
    assert "No images in" in str(e.value) and "empty" in str(e.value)


def test_image_folder_images_without_class_folders(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    (root / "1.png").write_bytes(png_bytes())
    with pytest.raises(DataError) as e:
        load_image_folder(root)
    assert "no class subfolders" in str(e.value) and str(root) in str(e.value)


def test_image_folder_missing_path_and_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_image_folder(tmp_path / "missing")
    root = make_class_folder(tmp_path / "d")
    with pytest.raises(DataError, match="color_mode"):
        load_image_folder(root, color_mode="cmyk")
    with pytest.raises(DataError, match="image_size"):
        load_image_folder(root, image_size=(0, 5))
    not_zip = tmp_path / "data.zip"
    not_zip.write_bytes(b"hello")
    with pytest.raises(DataError, match="data.zip is neither a folder nor a readable .zip"):
        load_image_folder(not_zip)


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_with_top_level_folder(tmp_path):
    members = {f"letters/{c}/{i}.png": png_bytes(value=i) for c in "qp" for i in range(2)}
    members["letters/.DS_Store"] = b"junk"
    members["__MACOSX/letters/q/._0.png"] = b"junk"
    data = load_image_folder(write_zip(tmp_path / "letters.zip", members))
    assert data.name == "letters"
    assert data.class_names == ("p", "q") and len(data) == 4


def test_zip_flat_classes_and_single_class(tmp_path):
    flat = write_zip(tmp_path / "flat.zip", {f"{c}/1.png": png_bytes() for c in "ab"})
    assert load_image_folder(flat).class_names == ("a", "b")
    # One class inside a wrapper folder: the class folder is not mistaken for a wrapper.
    single = write_zip(
        tmp_path / "one.zip", {"top/only/1.png": png_bytes(), "top/only/2.png": png_bytes()}
    )
    assert load_image_folder(single).class_names == ("only",)


def test_zip_corrupt_member_names_zip_and_member(tmp_path):
    path = write_zip(tmp_path / "d.zip", {"a/1.png": png_bytes(), "b/broken.png": b"\x89PNG junk"})
    with pytest.raises(DataError) as e:
        load_image_folder(path)
    assert "d.zip" in str(e.value) and "b/broken.png" in str(e.value)


@pytest.mark.parametrize(
    "evil", ["../evil.png", "a/../../evil.png", "/abs/evil.png", "C:/evil.png"]
)
def test_zip_refuses_escaping_members_before_decoding(tmp_path, evil):
    # The corrupt image would fail decoding; the refusal must come first.
    path = write_zip(
        tmp_path / "d.zip", {"a/1.png": png_bytes(), "b/corrupt.png": b"junk", evil: png_bytes()}
    )
    with pytest.raises(DataError) as e:
        load_image_folder(path)
    assert repr(evil) in str(e.value) and "refusing member" in str(e.value)


def test_zip_without_images(tmp_path):
    path = write_zip(tmp_path / "docs.zip", {"a/readme.txt": b"hi"})
    with pytest.raises(DataError, match="No images in .*docs.zip"):
        load_image_folder(path)


# ----------------------------------------------------------------------------- ImageSet checks


def test_imageset_rejects_float_images():
    with pytest.raises(DataError, match="uint8"):
        ImageSet(images=np.zeros((2, 4, 4, 1), np.float32), labels=np.array([0, 1]), name="floats")


def test_imageset_label_count_mismatch():
    with pytest.raises(DataError, match="3 labels for 2 images"):
        ImageSet(images=np.zeros((2, 4, 4), np.uint8), labels=np.array([0, 1, 1]))


def test_require_pairs_names_the_class_with_one_image():
    data = ImageSet(
        images=np.zeros((5, 4, 4), np.uint8),
        labels=np.array([0, 0, 1, 2, 2]),
        class_names=("cat", "lonely", "dog"),
    )
    with pytest.raises(DataError) as e:
        data.require_pairs()
    assert "'lonely' has 1 image" in str(e.value)


def test_require_pairs_one_class():
    data = ImageSet(images=np.zeros((3, 4, 4), np.uint8), labels=np.zeros(3, np.int64))
    with pytest.raises(DataError, match="at least 2 classes"):
        data.require_pairs()


# ----------------------------------------------------------------------------- TFDS


def test_load_tfds_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=8):
        data = load_tfds("mnist")
    assert data.name == "mnist/train"
    assert len(data) == 8
    assert data.image_shape == (28, 28, 1) and data.images.dtype == np.uint8
    assert data.num_classes == 10


def test_load_tfds_not_prepared_offline(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(DataError) as e:
        load_tfds("mnist", data_dir=tmp_path, download=False)
    message = str(e.value)
    assert "'mnist'" in message and str(tmp_path) in message
    assert "siamese-kit data fetch" in message and "load_idx" in message


def test_a_tfds_source_loads_as_any_other_with_paths_naming_each_example():
    tfds = pytest.importorskip("tensorflow_datasets")
    from siamese_kit.data import DataSource, load_source

    with tfds.testing.mock_data(num_examples=6):
        contents = load_source(DataSource("tfds:mnist", image_size=(20, 20), color="rgb"))
    data = contents.imageset
    assert data.image_shape == (20, 20, 3) and len(data) == 6  # resized and coloured like a folder's images
    assert data.paths == tuple(f"tfds:mnist[{i}]" for i in range(6))
    assert DataSource("tfds:mnist").kind == "tfds"
