"""Images as users have them: bit depths, colour modes, orientation, sizes, stray files, bad files."""

import io

import numpy as np
import pytest
from PIL import Image

from siamese_kit.data import DataError, ImageSet, load_image_folder, read_image_folder


def encoded(image: Image.Image, format="PNG", **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **save_args)
    return buffer.getvalue()


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def two_classes(root, size=(6, 8), count=3):
    for name, value in (("a", 40), ("b", 200)):
        for i in range(count):
            write(root / name / f"{i}.png", encoded(Image.new("L", (size[1], size[0]), value)))
    return root


def test_sixteen_bit_grey_is_scaled_never_clipped(tmp_path):
    gradient = (np.arange(16 * 16).reshape(16, 16) * 257).astype(np.uint16)  # 0 .. 65535
    write(tmp_path / "deep" / "g.png", encoded(Image.fromarray(gradient)))
    write(tmp_path / "flat" / "g.png", encoded(Image.fromarray(np.full((16, 16), 65535, np.uint16))))
    images = load_image_folder(tmp_path).images[..., 0]
    np.testing.assert_array_equal(images[0], (gradient // 257).astype(np.uint8))  # 0, 1, ..., 255
    assert np.unique(images[0]).size == 256  # clipping gave 0 then 255 everywhere
    assert (images[1] == 255).all()


def test_twelve_bit_images_in_sixteen_bit_files_keep_their_grey_levels_and_are_said(tmp_path, monkeypatch):
    from siamese_kit.data.sources import pixels

    monkeypatch.setattr(pixels, "_DEPTHS_SAID", set())
    twelve = (np.arange(16 * 16).reshape(16, 16) * 16).astype(np.uint16)  # 0 .. 4080: a 12-bit sensor's range
    write(tmp_path / "camera" / "a.png", encoded(Image.fromarray(twelve)))
    write(tmp_path / "camera" / "b.png", encoded(Image.fromarray(twelve[::-1].copy())))
    write(tmp_path / "deep" / "g.png", encoded(Image.fromarray((twelve.astype(np.uint32) * 16).astype(np.uint16))))
    with pytest.warns(UserWarning, match=r"16-bit image whose largest value is 4080, under 4,096 levels: read as 12-bit"):
        found = load_image_folder(tmp_path)
    by_path = dict(zip(found.paths, found.images[..., 0]))
    camera = by_path[str(tmp_path / "camera" / "a.png")]
    # Scaled over 4,095, not 65,535: 255 grey levels survive where the old scaling kept 17.
    np.testing.assert_array_equal(camera, np.rint(twelve * (255 / 4095)).astype(np.uint8))
    assert np.unique(camera).size == 255 and camera.max() == 254
    # A file using the full 16-bit range is scaled over 65,535, as before.
    full = by_path[str(tmp_path / "deep" / "g.png")]
    np.testing.assert_array_equal(full, np.rint(twelve.astype(np.float64) * 16 * (255 / 65535)).astype(np.uint8))


def test_transparency_becomes_white_and_palette_is_expanded(tmp_path):
    stroke = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # fully transparent black: the page
    stroke.putpixel((3, 3), (0, 0, 0, 255))  # one black ink dot
    write(tmp_path / "ink" / "rgba.png", encoded(stroke))
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    write(tmp_path / "ink" / "palette.png", encoded(palette))
    write(tmp_path / "page" / "grey.png", encoded(Image.new("L", (8, 8), 128)))
    found = load_image_folder(tmp_path, color_mode="rgb")
    by_path = dict(zip(found.paths, found.images))
    rgba = by_path[str(tmp_path / "ink" / "rgba.png")]
    assert (rgba[3, 3] == 0).all() and (rgba[0, 0] == 255).all()
    np.testing.assert_array_equal(by_path[str(tmp_path / "ink" / "palette.png")][0, 0], [10, 200, 30])
    np.testing.assert_array_equal(by_path[str(tmp_path / "page" / "grey.png")][0, 0], [128, 128, 128])


def test_exif_orientation_is_honoured(tmp_path):
    upright = np.zeros((4, 6), np.uint8)
    upright[0, :] = 255  # a white top row
    turned = Image.fromarray(np.rot90(upright, 1).copy())  # stored a quarter turn anticlockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the camera's usual portrait tag
    write(tmp_path / "a" / "photo.jpg", encoded(turned, "JPEG", exif=exif, quality=100))
    write(tmp_path / "b" / "other.jpg", encoded(Image.fromarray(upright), "JPEG", quality=100))
    images = load_image_folder(tmp_path).images[..., 0]
    assert images.shape[1:] == (4, 6)  # without EXIF it would be 6 x 4 and refused as another size
    assert images[0][0].mean() > 200 and images[0][-1].mean() < 50


def test_mixed_sizes_fit_with_padding_in_the_border_colour(tmp_path):
    write(tmp_path / "a" / "wide.png", encoded(Image.new("L", (20, 10), 255)))  # white, 10 x 20
    write(tmp_path / "b" / "tall.png", encoded(Image.new("L", (5, 10), 30)))
    stretched = load_image_folder(tmp_path, image_size=(10, 10)).images[..., 0]
    padded = load_image_folder(tmp_path, image_size=(10, 10), keep_aspect=True).images[..., 0]
    assert (stretched[0] == 255).all()
    assert (padded[0] == 255).all()  # the pad takes the white border, no black bars
    assert (padded[1] == 30).all()
    with pytest.raises(DataError, match="keep_aspect needs image_size"):
        load_image_folder(tmp_path, keep_aspect=True)


def test_every_format_and_mode_mixed_loads(tmp_path):
    pixels = np.full((8, 8, 3), (90, 120, 150), np.uint8)
    image = Image.fromarray(pixels)
    write(tmp_path / "a" / "1.webp", encoded(image, "WEBP", lossless=True))
    write(tmp_path / "a" / "2.bmp", encoded(image, "BMP"))
    write(tmp_path / "a" / "3.tiff", encoded(image, "TIFF"))
    write(tmp_path / "b" / "4.jpg", encoded(image.convert("L"), "JPEG", quality=100))
    write(tmp_path / "b" / "5.png", encoded(image.convert("RGBA")))
    found = load_image_folder(tmp_path, color_mode="rgb")
    assert len(found) == 5 and found.image_shape == (8, 8, 3)
    np.testing.assert_allclose(found.images[:3].reshape(-1, 3).mean(0), (90, 120, 150), atol=1)


def test_files_that_are_not_images_are_ignored_and_counted(tmp_path):
    two_classes(tmp_path)
    write(tmp_path / "a" / "Thumbs.db", b"\x00\x01")
    write(tmp_path / "a" / "notes.txt", b"where these came from")
    write(tmp_path / "README.md", b"# my data")
    write(tmp_path / ".DS_Store", b"\x00")
    contents = read_image_folder(tmp_path)
    assert len(contents.imageset) == 6
    assert sorted(p.rsplit("/", 1)[-1] for p in contents.ignored) == ["README.md", "Thumbs.db", "notes.txt"]
    assert contents.skipped == ()


def test_an_unreadable_image_stops_the_load_or_is_skipped_and_listed(tmp_path):
    two_classes(tmp_path)
    bad = write(tmp_path / "b" / "broken.png", b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError) as e:
        load_image_folder(tmp_path)
    assert str(bad) in str(e.value) and "skip_bad" in str(e.value) and "elete" not in str(e.value)
    contents = read_image_folder(tmp_path, skip_bad=True)
    assert len(contents.imageset) == 6 and str(bad) not in contents.imageset.paths
    assert [path for path, _ in contents.skipped] == [str(bad)]
    assert bad.read_bytes() == b"\x89PNG\r\n\x1a\n not really"  # the user's file is left alone
    # Labels still follow the images that were kept.
    assert contents.imageset.class_counts().tolist() == [3, 3]


def test_paths_follow_subsets_and_splits(tmp_path):
    found = load_image_folder(two_classes(tmp_path, count=4))
    kept, held = found.split(0.5, seed=0)
    assert set(kept.paths) | set(held.paths) == set(found.paths) and not set(kept.paths) & set(held.paths)
    for part in (kept, held):
        for path, label in zip(part.paths, part.labels):
            assert f"/{part.class_names[label]}/" in path


def test_a_split_that_would_hold_out_nothing_says_why(tmp_path):
    found = load_image_folder(two_classes(tmp_path, count=3))
    with pytest.raises(DataError) as e:
        found.split(0.1)
    message = str(e.value)
    assert "split(fraction=0.1)" in message and "3 to 3 images" in message and "split_classes" in message


def test_open_set_split_puts_each_class_in_one_part():
    images = np.zeros((40, 4, 4, 1), np.uint8)
    labels = np.repeat(np.arange(20), 2)
    imageset = ImageSet(images, labels, name="people")
    train, validation, test = imageset.split_classes(0.2, 0.2, seed=3)
    parts = [set(np.unique(p.labels).tolist()) for p in (train, validation, test)]
    assert [len(p) for p in parts] == [12, 4, 4]
    assert parts[0] | parts[1] | parts[2] == set(range(20)) and not (parts[0] & parts[2] or parts[1] & parts[2])
    assert imageset.split_classes(0.2, 0.2, seed=3)[2].labels.tolist() == test.labels.tolist()
    with pytest.raises(DataError) as e:
        ImageSet(images[:10], labels[:10], name="five people").split_classes(0.2, 0.2)
    assert "five people" in str(e.value) and "5 classes" in str(e.value) and "--split images" in str(e.value)
