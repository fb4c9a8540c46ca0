"""Omniglot: loading zips and folders, two-level class folders, TFDS, and within-alphabet negatives.

Most tests use a tiny Omniglot-like split written to tmp_path; the real-data tests read the zips in
`omniglot_dir()` (CI exports SIAMESE_KIT_OMNIGLOT).
"""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import siamese_kit.data.sources.omniglot as omniglot_module
from conftest import make_imageset, write_folder, write_zip
from siamese_kit.data import (
    OMNIGLOT_SPLITS,
    DataError,
    ImageSet,
    fixed_pairs,
    load_image_folder,
    load_omniglot,
    load_omniglot_tfds,
    omniglot_dir,
    pair_stream,
)

ALPHABETS = ("Beta_Script", "Alpha-Runes")  # not in sorted order on purpose
CHARACTERS = 3
DRAWERS = 4
SIZE = 105
STROKE = 3

ROOT = Path(__file__).resolve().parents[1]


def stroke_columns(class_index):
    """Columns of the vertical stroke that marks a character (its class, 0..5)."""
    start = 10 + 14 * class_index
    return slice(start, start + STROKE)


def stroke_rows(drawer):
    """Rows of the horizontal stroke that marks a drawer, so every image differs."""
    start = 20 + 15 * drawer
    return slice(start, start + STROKE)


def character_png(class_index, drawer):
    """A 1-bit 105x105 PNG: black strokes on white, like the Omniglot files."""
    white = np.ones((SIZE, SIZE), dtype=bool)
    white[:, stroke_columns(class_index)] = False
    white[stroke_rows(drawer), :] = False
    image = Image.fromarray(white)
    assert image.mode == "1"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def omniglot_members(split="images_background"):
    """Zip member name -> PNG bytes, in Omniglot's layout; classes numbered in sorted order."""
    members = {}
    for a, alphabet in enumerate(sorted(ALPHABETS)):
        for c in range(CHARACTERS):
            class_index = a * CHARACTERS + c
            for d in range(DRAWERS):
                name = f"{split}/{alphabet}/character{c + 1:02d}/{class_index + 1:04d}_{d + 1:02d}.png"
                members[name] = character_png(class_index, d)
    return members


@pytest.fixture
def zip_home(tmp_path):
    """A folder holding images_background.zip, as downloaded from the Omniglot repository."""
    home = tmp_path / "zips"
    home.mkdir()
    write_zip(home / "images_background.zip", omniglot_members())
    return home


@pytest.fixture
def folder_home(tmp_path):
    """A folder holding the unzipped images_background/ folder."""
    return write_folder(tmp_path / "unzipped", omniglot_members())


@pytest.fixture
def synthetic(zip_home):
    return load_omniglot(path=zip_home)


def assert_same_imageset(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.groups, b.groups)
    assert a.class_names == b.class_names and a.group_names == b.group_names


# ----------------------------------------------------------------------------- load_omniglot


def test_labels_groups_and_names(synthetic):
    alphabets = sorted(ALPHABETS)
    assert synthetic.name == "omniglot/images_background"
    assert len(synthetic) == 2 * CHARACTERS * DRAWERS
    assert synthetic.image_shape == (SIZE, SIZE, 1) and synthetic.images.dtype == np.uint8
    assert synthetic.group_names == tuple(alphabets)
    assert synthetic.class_names == tuple(
        f"{a}/character{c:02d}" for a in alphabets for c in range(1, CHARACTERS + 1)
    )
    np.testing.assert_array_equal(synthetic.class_counts(), [DRAWERS] * 6)
    np.testing.assert_array_equal(synthetic.groups, synthetic.labels // CHARACTERS)
    # Pixels kept as in the file: black (0) strokes on white (255), nothing in between.
    assert set(np.unique(synthetic.images)) == {0, 255}
    for image, label in zip(synthetic.images[..., 0], synthetic.labels):
        assert (image[:, stroke_columns(label)] == 0).all()
        assert image[0, 0] == 255


def test_zip_and_unzipped_folder_give_the_same_imageset(zip_home, folder_home):
    from_zip = load_omniglot(path=zip_home)
    for path in (
        folder_home,  # folder holding images_background/
        folder_home / "images_background",  # one split's folder
        zip_home / "images_background.zip",  # one split's zip
    ):
        data = load_omniglot(path=path)
        assert data.name == "omniglot/images_background"
        assert_same_imageset(from_zip, data)


def test_split_found_through_the_environment(monkeypatch, folder_home):
    monkeypatch.setenv("SIAMESE_KIT_OMNIGLOT", str(folder_home))
    assert omniglot_dir() == folder_home
    assert len(load_omniglot()) == 2 * CHARACTERS * DRAWERS


def test_omniglot_dir_falls_back_to_the_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SIAMESE_KIT_OMNIGLOT", raising=False)
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path))
    assert omniglot_dir() is None
    (tmp_path / "omniglot").mkdir()
    assert omniglot_dir() == tmp_path / "omniglot"


def test_resize_keeps_strokes_visible(zip_home, synthetic):
    small = load_omniglot(path=zip_home, image_size=28)
    assert small.image_shape == (28, 28, 1) and small.images.dtype == np.uint8
    assert_same_imageset(small, load_omniglot(path=zip_home, image_size=(28, 28)))
    np.testing.assert_array_equal(small.labels, synthetic.labels)
    # Area averaging turns every 3 px stroke into clearly dark pixels and leaves white as white.
    assert small.images.reshape(len(small), -1).min(axis=1).max() < 160
    assert small.images[:, 0, 0, 0].min() == 255
    assert load_omniglot(path=zip_home, image_size=(52, 40)).image_shape == (52, 40, 1)


def test_bad_split_and_image_size(zip_home):
    with pytest.raises(DataError) as e:
        load_omniglot("images_train", path=zip_home)
    assert "'images_train'" in str(e.value)
    assert all(split in str(e.value) for split in OMNIGLOT_SPLITS)
    for bad in (0, (28,), (28, -1), 28.0, True):
        with pytest.raises(DataError, match="image_size"):
            load_omniglot(path=zip_home, image_size=bad)


def test_missing_data_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("SIAMESE_KIT_OMNIGLOT", raising=False)
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path / "home"))
    monkeypatch.setattr(omniglot_module, "reachable", lambda *args, **kwargs: False)
    with pytest.raises(DataError) as e:
        load_omniglot()
    message = str(e.value)
    for needed in ("SIAMESE_KIT_OMNIGLOT", "images_background.zip", "images_evaluation.zip",
                   "brendenlake/omniglot", "path=", str(tmp_path / "home" / "omniglot")):
        assert needed in message
    assert "load_tfds" not in message  # offline: TFDS could not download either


def test_missing_data_points_to_tfds_when_online(monkeypatch, tmp_path):
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.delenv("SIAMESE_KIT_OMNIGLOT", raising=False)
    monkeypatch.setenv("SIAMESE_KIT_DATA", str(tmp_path))
    monkeypatch.setattr(omniglot_module, "reachable", lambda *args, **kwargs: True)
    with pytest.raises(DataError, match=r"load_tfds\('omniglot'\)"):
        load_omniglot()


def test_wrong_folder_names_what_was_looked_for(monkeypatch, tmp_path, zip_home):
    monkeypatch.setenv("SIAMESE_KIT_OMNIGLOT", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere.*does not exist.*SIAMESE_KIT_OMNIGLOT"):
        load_omniglot()
    with pytest.raises(DataError) as e:
        load_omniglot("images_evaluation", path=zip_home)
    assert "images_evaluation.zip" in str(e.value) and str(zip_home) in str(e.value)
    with pytest.raises(DataError, match="not found"):
        load_omniglot(path=tmp_path / "missing.zip")


def test_zip_member_escaping_the_archive_is_refused(tmp_path):
    members = omniglot_members()
    members["images_background/../evil.png"] = character_png(0, 0)
    path = write_zip(tmp_path / "images_background.zip", members)
    with pytest.raises(DataError, match="refusing member 'images_background/../evil.png'"):
        load_omniglot(path=tmp_path)
    assert not (tmp_path / "evil.png").exists()


# ----------------------------------------------------------------------------- class_levels=2


def test_class_levels_two_with_a_lone_group_and_an_empty_class(tmp_path):
    # One group in a wrapper folder: the group is not mistaken for a wrapper.
    members = {f"wrap/animals/{c}/{i}.png": character_png(k, i) for k, c in enumerate("xy") for i in range(2)}
    data = load_image_folder(write_zip(tmp_path / "one.zip", members), class_levels=2)
    assert data.class_names == ("animals/x", "animals/y") and data.group_names == ("animals",)
    np.testing.assert_array_equal(data.groups, 0)
    # An empty class folder still gets a label; a stray image beside class folders is ignored.
    root = write_folder(tmp_path / "tree", {k.replace("wrap/", ""): v for k, v in members.items()})
    (root / "plants" / "fern").mkdir(parents=True)
    (root / "animals" / "stray.png").write_bytes(character_png(0, 0))
    data = load_image_folder(root, class_levels=2)
    assert data.class_names == ("animals/x", "animals/y", "plants/fern")
    assert data.group_names == ("animals", "plants") and len(data) == 4


def test_class_levels_one_is_unchanged_and_bad_levels_refused(zip_home):
    # Level 1 on Omniglot's layout: the alphabets are the classes, as before.
    data = load_image_folder(zip_home / "images_background.zip")
    assert data.class_names == tuple(sorted(ALPHABETS)) and data.groups is None
    for bad in (0, 3, True, "2"):
        with pytest.raises(DataError, match="class_levels"):
            load_image_folder(zip_home, class_levels=bad)


def test_class_levels_two_without_group_folders(tmp_path):
    root = write_folder(tmp_path / "flat", {f"{c}/1.png": character_png(0, 0) for c in "ab"})
    with pytest.raises(DataError, match="no class subfolders.*group folder"):
        load_image_folder(root, class_levels=2)


# ----------------------------------------------------------------------------- TFDS


def test_load_omniglot_tfds_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        data = load_omniglot_tfds("train")
        small = load_omniglot_tfds("test", image_size=28)
    assert data.name == "omniglot/train" and len(data) == 12
    assert data.image_shape == (105, 105, 1) and data.images.dtype == np.uint8
    assert data.groups is not None and len(data.group_names) == len(np.unique(data.groups))
    assert all(name.split("/")[1].startswith("character") for name in data.class_names)
    # Every class lies inside one alphabet, named by its group.
    for label in np.unique(data.labels):
        groups = np.unique(data.groups[data.labels == label])
        assert len(groups) == 1
        assert data.class_names[label].startswith(data.group_names[groups[0]] + "/")
    assert small.image_shape == (28, 28, 1)


def test_load_omniglot_tfds_unknown_split():
    with pytest.raises(DataError, match="'validation'.*'train' \\(images_background\\)"):
        load_omniglot_tfds("validation")


# ----------------------------------------------------------------------------- same-group pairs


def test_same_group_negatives_stay_in_the_alphabet(synthetic):
    seen = set()
    for features, target in pair_stream(synthetic, batch_size=64, seed=5, negatives="same_group").take(3):
        label_a, label_b = features["label_a"].numpy(), features["label_b"].numpy()
        negative = target.numpy() == 0
        assert negative.sum() == 32
        np.testing.assert_array_equal(label_a == label_b, ~negative)
        group_a, group_b = label_a // CHARACTERS, label_b // CHARACTERS
        np.testing.assert_array_equal(group_a[negative], group_b[negative])
        seen |= set(zip(label_a[negative], label_b[negative]))
    # Each character meets both other characters of its alphabet, and nothing else.
    assert seen == {(a, b) for a in range(6) for b in range(6) if a != b and a // 3 == b // 3}


def test_random_mode_is_about_half_same_with_same_group_negatives(synthetic):
    features, target = next(
        iter(pair_stream(synthetic, batch_size=4000, seed=1, mode="random", negatives="same_group"))
    )
    assert 0.46 < target.numpy().mean() < 0.54
    counts = np.bincount(features["label_a"].numpy(), minlength=6)
    assert counts.min() > 550  # first classes uniform: 667 expected each


def test_same_group_stream_is_seeded_and_resumable(synthetic):
    def batches(**kwargs):
        stream = pair_stream(synthetic, batch_size=16, negatives="same_group", **kwargs)
        return [(f["label_b"].numpy(), f["image_b"].numpy()) for f, _ in stream.take(5 - kwargs.get("start_batch", 0))]

    whole = batches(seed=2)
    again = batches(seed=2)
    resumed = batches(seed=2, start_batch=3)
    for (labels_w, images_w), (labels_a, images_a) in zip(whole, again):
        np.testing.assert_array_equal(images_w, images_a)
    for (labels_w, images_w), (labels_r, images_r) in zip(whole[3:], resumed):
        np.testing.assert_array_equal(images_w, images_r)
    pairs = fixed_pairs(synthetic, 200, seed=3, negatives="same_group")
    again = fixed_pairs(synthetic, 200, seed=3, negatives="same_group")
    np.testing.assert_array_equal(pairs.index_b, again.index_b)
    negative = pairs.pair_label == 0
    np.testing.assert_array_equal(
        synthetic.groups[pairs.index_a[negative]], synthetic.groups[pairs.index_b[negative]]
    )
    assert (synthetic.labels[pairs.index_a[negative]] != synthetic.labels[pairs.index_b[negative]]).all()


def test_lone_class_in_its_group_falls_back_to_any_other_class():
    images = np.arange(8 * 4, dtype=np.uint8).reshape(8, 2, 2, 1)
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    groups = np.array([0, 0, 0, 0, 1, 1, 2, 2])  # classes 2 and 3 are alone in their groups
    data = ImageSet(images, labels, groups=groups)
    pairs = fixed_pairs(data, 2000, seed=0, mode="random", negatives="same_group")
    negative = pairs.pair_label == 0
    first, second = labels[pairs.index_a[negative]], labels[pairs.index_b[negative]]
    assert (first != second).all()
    assert set(second[first == 0]) == {1} and set(second[first == 1]) == {0}
    assert set(second[first == 2]) == {0, 1, 3}


def test_same_group_needs_groups_and_known_values(small_set):
    with pytest.raises(DataError, match="negatives='same_group' needs an ImageSet with groups"):
        pair_stream(small_set, negatives="same_group")
    with pytest.raises(DataError, match="negatives='same_group' needs an ImageSet with groups"):
        fixed_pairs(small_set, 10, negatives="same_group")
    with pytest.raises(DataError, match="negatives must be one of"):
        pair_stream(small_set, negatives="hardest")
    spread = ImageSet(
        np.zeros((4, 2, 2, 1), np.uint8), np.array([0, 0, 1, 1]), groups=np.array([0, 1, 1, 1])
    )
    with pytest.raises(DataError, match="class '0' has images in groups"):
        pair_stream(spread, negatives="same_group")


def test_any_negatives_are_the_default_stream(synthetic):
    default = fixed_pairs(synthetic, 100, seed=9)
    explicit = fixed_pairs(synthetic, 100, seed=9, negatives="any")
    np.testing.assert_array_equal(default.index_b, explicit.index_b)
    negative = default.pair_label == 0
    # Without the constraint some negatives cross alphabets.
    assert (synthetic.groups[default.index_a[negative]] != synthetic.groups[default.index_b[negative]]).any()


# ----------------------------------------------------------------------------- real Omniglot


@pytest.fixture(scope="module")
def evaluation(omniglot_dir_or_skip):
    return load_omniglot("images_evaluation")


def test_real_evaluation_split(evaluation):
    assert len(evaluation) == 13_180
    assert evaluation.num_classes == 659 and len(evaluation.group_names) == 20
    assert len(np.unique(evaluation.groups)) == 20
    np.testing.assert_array_equal(evaluation.class_counts(), 20)
    assert evaluation.image_shape == (105, 105, 1)
    assert set(np.unique(evaluation.images[:50])) == {0, 255}
    # Strokes are the minority, black on white.
    assert (evaluation.images[:50] == 0).mean() < 0.25


def test_real_small1_split(omniglot_dir_or_skip):
    small1 = load_omniglot("images_background_small1", image_size=28)
    assert len(small1) == 2_720 and len(small1.group_names) == 5
    assert small1.image_shape == (28, 28, 1)
    # Area averaging keeps the thin strokes: every character still has dark pixels at 28 px.
    assert (small1.images.reshape(len(small1), -1).min(axis=1) < 128).mean() > 0.99


def test_real_same_group_pairs(evaluation):
    pairs = fixed_pairs(evaluation, 4000, seed=0, negatives="same_group")
    negative = pairs.pair_label == 0
    a, b = pairs.index_a[negative], pairs.index_b[negative]
    np.testing.assert_array_equal(evaluation.groups[a], evaluation.groups[b])
    assert (evaluation.labels[a] != evaluation.labels[b]).all()
    same = pairs.pair_label == 1
    np.testing.assert_array_equal(
        evaluation.labels[pairs.index_a[same]], evaluation.labels[pairs.index_b[same]]
    )


# ----------------------------------------------------------------------------- the Vinyals split


def test_both_sets_merge_with_the_evaluation_numbered_after_the_background(tmp_path):
    from siamese_kit.data import merged_omniglot

    home = tmp_path / "both"
    home.mkdir()
    write_zip(home / "images_background.zip", omniglot_members())
    write_zip(home / "images_evaluation.zip", omniglot_members("images_evaluation"))
    merged = merged_omniglot(image_size=28, path=home)
    background = load_omniglot("images_background", path=home, image_size=28)
    assert len(merged) == 2 * len(background) and merged.num_classes == 12 and len(merged.group_names) == 4
    second = np.arange(len(merged)) >= len(background)
    np.testing.assert_array_equal(merged.labels[second], background.labels + 6)
    np.testing.assert_array_equal(merged.groups[second], background.groups + 2)
    np.testing.assert_array_equal(merged.images[second], background.images)  # same drawings in both fakes
    assert merged.class_names[6].startswith("Alpha-Runes/") and merged.paths[-1].startswith(str(home))


def test_random_character_split_is_disjoint_seeded_and_rotated():
    from siamese_kit.data import random_character_split as vinyals_split

    characters = make_imageset(num_classes=60, per_class=3, size=8)
    train, test = vinyals_split(characters, seed=4, train_characters=35)
    plain_train, plain_test = vinyals_split(characters, seed=4, train_characters=35, rotations=False)
    assert len(np.unique(plain_train.labels)) == 35 and len(np.unique(plain_test.labels)) == 25
    assert not set(plain_train.labels.tolist()) & set(plain_test.labels.tolist())
    # Each turn is a class of its own; no character is on both sides in any turn.
    assert len(np.unique(train.labels)) == 4 * 35 and len(np.unique(test.labels)) == 4 * 25
    assert not {name.split("@")[0] for name in np.array(train.class_names)[np.unique(train.labels)]} & \
        {name.split("@")[0] for name in np.array(test.class_names)[np.unique(test.labels)]}
    again, _ = vinyals_split(characters, seed=4, train_characters=35, rotations=False)
    other, _ = vinyals_split(characters, seed=5, train_characters=35, rotations=False)
    np.testing.assert_array_equal(again.labels, plain_train.labels)
    assert set(other.labels.tolist()) != set(plain_train.labels.tolist())
    with pytest.raises(DataError, match="at least 20 characters on each side"):
        vinyals_split(characters, train_characters=45)


def fake_characters(names_per_alphabet, per_class=2, size=8):
    """Characters named as Omniglot's (`"Alphabet/characterNN"`), alphabets as groups."""
    names = [f"{alphabet}/character{n:02d}" for alphabet, count in names_per_alphabet.items() for n in range(1, count + 1)]
    base = make_imageset(num_classes=len(names), per_class=per_class, size=size)
    alphabets = sorted(names_per_alphabet)
    groups = np.array([alphabets.index(names[label].split("/")[0]) for label in base.labels])
    return ImageSet(base.images, base.labels, tuple(names), groups=groups, group_names=tuple(alphabets), name="fake")


def test_the_published_vinyals_lists_have_the_papers_sizes_and_keep_characters_apart():
    from siamese_kit.data import vinyals_classes

    parts = {part: vinyals_classes(part) for part in ("train", "val", "trainval", "test")}
    assert {part: len(lines) for part, lines in parts.items()} == {"train": 4112, "val": 688, "trainval": 4800,
                                                                   "test": 1692}
    characters = {part: {line.rsplit("/", 1)[0] for line in lines} for part, lines in parts.items()}
    assert [len(characters[p]) for p in ("train", "val", "trainval", "test")] == [1028, 172, 1200, 423]
    assert parts["trainval"] == parts["train"] + parts["val"]
    assert not characters["train"] & characters["val"] and not characters["trainval"] & characters["test"]
    assert len(characters["trainval"] | characters["test"]) == 1623  # every Omniglot character, once
    # Every character in its four turns; the test alphabets are (almost) whole alphabets of their own.
    assert all(sum(line.startswith(c + "/rot") for line in parts["test"]) == 4 for c in list(characters["test"])[:50])
    test_alphabets = {c.split("/")[0] for c in characters["test"]}
    shared = {c.split("/")[0] for c in characters["trainval"]} & test_alphabets
    assert shared == {"Gurmukhi"} and len(test_alphabets) == 13


def test_the_shipped_lists_are_the_published_files_when_they_are_here():
    from siamese_kit.data import vinyals_classes

    published = ROOT.parent / "shared" / "data" / "omniglot" / "vinyals_split"
    if not published.is_dir():
        pytest.skip("../shared/data/omniglot/vinyals_split not here; the shipped lists are checked by their sha256")
    for part in ("train", "val", "trainval", "test"):
        assert vinyals_classes(part) == tuple((published / f"{part}.txt").read_text().split()), part


def test_a_changed_vinyals_list_is_refused_with_its_name(tmp_path, monkeypatch):
    from siamese_kit.data.sources import vinyals

    for name in ("train.txt", "val.txt", "test.txt"):
        (tmp_path / name).write_bytes((vinyals.LISTS_DIR / name).read_bytes())
    (tmp_path / "test.txt").write_text((tmp_path / "test.txt").read_text().replace("rot090", "rot000", 1))
    monkeypatch.setattr(vinyals, "LISTS_DIR", tmp_path)
    assert len(vinyals.vinyals_classes("train")) == 4112  # an unchanged list still reads
    with pytest.raises(DataError, match=r"test\.txt: sha256 .* not the published list"):
        vinyals.vinyals_classes("test")
    with pytest.raises(DataError, match="part must be one of train, val, trainval, test"):
        vinyals.vinyals_classes("validation")


def test_load_vinyals_split_turns_each_listed_character_into_its_four_classes(monkeypatch):
    from siamese_kit.data import load_vinyals_split
    from siamese_kit.data.sources import vinyals

    lines = ("Alpha/character01/rot000", "Alpha/character01/rot090", "Beta/character02/rot270")
    monkeypatch.setattr(vinyals, "vinyals_classes", lambda part: lines)
    characters = fake_characters({"Alpha": 2, "Beta": 3}, per_class=3)
    part = load_vinyals_split("val", characters=characters)
    assert part.class_names == ("Alpha/character01", "Alpha/character01@90", "Beta/character02@270")
    assert part.group_names == ("Alpha", "Alpha@90", "Beta@270") and part.num_classes == 3 and len(part) == 9
    first = characters.images[characters.labels == 0]
    np.testing.assert_array_equal(part.images[part.labels == 0], first)
    np.testing.assert_array_equal(part.images[part.labels == 1], np.rot90(first, 1, axes=(1, 2)))
    np.testing.assert_array_equal(part.images[part.labels == 2],
                                  np.rot90(characters.images[characters.labels == 3], 3, axes=(1, 2)))
    # Turned already: the recipe's rotations would put each image under four labels, so it is refused.
    with pytest.raises(DataError, match="turned already.*rotations=False"):
        part.with_rotated_classes()
    monkeypatch.setattr(vinyals, "vinyals_classes", lambda part: ("Gamma/character09/rot000",))
    with pytest.raises(DataError, match="'Gamma/character09/rot000', which this Omniglot data lacks"):
        load_vinyals_split("test", characters=characters)


def test_the_published_test_part_loads_from_the_real_omniglot(omniglot_dir_or_skip):
    from siamese_kit.data import load_vinyals_split, merged_omniglot

    characters = merged_omniglot(image_size=28, path=omniglot_dir_or_skip)
    test = load_vinyals_split("test", characters=characters)
    assert test.num_classes == 1692 and len(test) == 1692 * 20 and test.image_shape == (28, 28, 1)
    upright = test.class_names.index("Gurmukhi/character42")
    turned = test.class_names.index("Gurmukhi/character42@180")
    np.testing.assert_array_equal(test.images[test.labels == turned],
                                  np.rot90(test.images[test.labels == upright], 2, axes=(1, 2)))


def test_one_shot_validation_keeps_the_minimal_split_whole_and_chooses_on_the_alphabets_outside_it(
        monkeypatch, tmp_path):
    from siamese_kit.recipes.one_shot import validation_split

    home = tmp_path / "splits"
    home.mkdir()
    write_zip(home / "images_background.zip", omniglot_members())
    small = {name.replace("images_background/", "images_background_small1/"): data
             for name, data in omniglot_members().items() if "/Beta_Script/" in name}
    write_zip(home / "images_background_small1.zip", small)
    monkeypatch.setenv("SIAMESE_KIT_OMNIGLOT", str(home))
    train, validation = validation_split("images_background_small1", image_size=28)
    assert set(train.group_names) == {"Beta_Script"} and len(train) == CHARACTERS * DRAWERS
    assert {validation.group_names[g] for g in np.unique(validation.groups)} == {"Alpha-Runes"}
    assert len(validation) == CHARACTERS * DRAWERS
    # On the full background set a seeded share of its alphabets is held out instead (at least one).
    kept, held = validation_split("images_background", image_size=28)
    assert len(kept) + len(held) == 2 * CHARACTERS * DRAWERS
    assert not set(np.unique(kept.groups)) & set(np.unique(held.groups))
