"""Gallery.identify on classes outside the gallery: a stranger is "unknown", a known face keeps its name."""

import numpy as np
from PIL import Image

from siamese_kit.search import Gallery, Verifier


class MeanBrightness:
    """A stand-in tower: an image's mean brightness is its 1-D embedding, so every distance is known."""

    score_kind = "distance"

    def embed(self, images):
        pixels = np.asarray(getattr(images, "images", images), dtype=np.float32)
        return pixels.reshape(len(pixels), -1).mean(axis=1, keepdims=True)


def grey(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), value).save(path)
    return path


def test_a_query_from_a_class_outside_the_gallery_is_unknown_and_a_known_one_is_named(tmp_path):
    for name, value in (("dark", 20), ("mid", 100)):
        for i in range(3):
            grey(tmp_path / "gallery" / name / f"{i}.png", value + i)
    near_dark = grey(tmp_path / "queries" / "near_dark.png", 23)      # 1 from dark's nearest image
    stranger = grey(tmp_path / "queries" / "stranger.png", 230)       # 128 from the nearest class
    between = grey(tmp_path / "queries" / "between.png", 60)          # 38 from dark, 40 from mid
    verifier = Verifier(MeanBrightness(), threshold=10.0, image_shape=(8, 8, 1))
    answers = Gallery(verifier, tmp_path / "gallery").identify([near_dark, stranger, between], top_k=2)
    assert [a["identity"] for a in answers] == ["dark", "unknown", "unknown"]
    # Unknown or not, the ranking is still given: the stranger's nearest class first, at its distance.
    assert [m["class"] for m in answers[1]["matches"]] == ["mid", "dark"]
    assert answers[1]["matches"][0]["distance"] == 128.0 and answers[0]["matches"][0]["distance"] == 1.0
    # A looser threshold takes the in-between drawing for its nearest class: the threshold decides.
    loose = Gallery(Verifier(MeanBrightness(), threshold=39.0, image_shape=(8, 8, 1)), tmp_path / "gallery")
    assert [a["identity"] for a in loose.identify([between, stranger])] == ["dark", "unknown"]
