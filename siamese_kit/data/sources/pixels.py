"""Pixels as the loaders deliver them: wide grey scaled to 8 bits without clipping, transparency laid on
white, and one resize (stretched, or fitted and padded) shared by folders, IDX and TFDS sources."""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image, ImageOps

from ..imageset import DataError

_WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def eight_bit(img: Image.Image, describe: str) -> Image.Image:
    """Grey wider than 8 bits scaled to 0..255 over the bits it holds (floats over 0..1), never clipped.

    A 16-bit file often holds fewer bits: 10-, 12- or 14-bit cameras and scanners store their pixels in
    16-bit files. Scaled over 65,535, a 12-bit image would keep 16 grey levels. So the depth is the one the
    file declares (a TIFF's BitsPerSample) or, where it declares none below 16, the data's own: the
    smallest of 8, 10, 12, 14 or 16 bits that holds its largest value. A file that uses under 4,096 levels
    is said once (`UserWarning`), since a truly 16-bit but very dark image would be brightened by it.

    Args:
        img: a PIL image.
        describe: the image's file, for messages.

    Returns:
        the image as 8-bit grey (`"L"`) when it was wider, else unchanged.

    Raises:
        DataError: for pixels outside the range the file's depth allows.
    """
    if img.mode not in _WIDE_GREY_MODES:
        return img
    values = np.asarray(img, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if img.mode == "F":
        top = 1.0
    else:
        declared = getattr(img, "tag_v2", {}).get(258) if hasattr(img, "tag_v2") else None
        declared = int(declared[0] if isinstance(declared, tuple) else declared) if declared else 16
        bits = declared if declared < 16 else next(b for b in (8, 10, 12, 14, 16) if high < 2**b or b == 16)
        top = float(2**bits - 1)
        if declared == 16 and high < 4096:
            _say_depth_once(bits, describe, high)
    if low < 0 or high > top:
        raise DataError(
            f"Cannot read image {describe}: its {img.mode} pixels run from {low:g} to {high:g}, outside "
            f"0..{top:g}, so they cannot be scaled to 0..255 without clipping. Save it as an 8- or "
            "16-bit image."
        )
    return Image.fromarray(np.rint(values * (255.0 / top)).astype(np.uint8), "L")


_DEPTHS_SAID: set[int] = set()


def _say_depth_once(bits: int, describe: str, high: float) -> None:
    """Warns, once per depth in a session, that 16-bit files were read as holding fewer bits."""
    if bits in _DEPTHS_SAID:
        return
    _DEPTHS_SAID.add(bits)
    warnings.warn(
        f"{describe} is a 16-bit image whose largest value is {high:g}, under 4,096 levels: read as {bits}-bit "
        f"(scaled by 255/{2**bits - 1}), as 10- and 12-bit cameras store their pixels. Other 16-bit files like "
        "it are read the same way without another warning. If your images are truly 16-bit, save them with "
        "their full range (or as 8-bit) so every file is scaled alike.", UserWarning, stacklevel=2)


def without_alpha(img: Image.Image) -> Image.Image:
    """Transparent areas laid on white, the page most drawings and scans assume.

    Args:
        img: a PIL image.

    Returns:
        the image without transparency (RGBA composited on white), or unchanged.
    """
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not has_alpha:
        return img
    rgba = img.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)


def fit_image(img: Image.Image, image_size: tuple[int, int], keep_aspect: bool = False,
              resample: int = Image.Resampling.BILINEAR) -> Image.Image:
    """One image at `image_size`: stretched, or scaled to fit inside it and padded with its border colour.

    The padding takes the mean colour of the image's own border, so a white page is padded white and a
    dark photo dark: the pad never draws a frame the model could learn.

    Args:
        img: a PIL image.
        image_size: `(height, width)`.
        keep_aspect: pad rather than stretch.
        resample: the PIL resampling filter.

    Returns:
        the PIL image at `image_size` (the same object when it already is that size).
    """
    height, width = image_size
    if img.size == (width, height):
        return img
    if not keep_aspect:
        return img.resize((width, height), resample)
    pixels = np.asarray(img)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    fill = tuple(int(round(v)) for v in np.atleast_1d(border.mean(axis=0)))
    return ImageOps.pad(img, (width, height), method=resample, color=fill[0] if len(fill) == 1 else fill)


__all__ = ["eight_bit", "fit_image", "without_alpha"]
