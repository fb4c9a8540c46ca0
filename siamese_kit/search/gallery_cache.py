"""A gallery's embeddings kept beside a run, updated file by file.

Each image is known by its content, not its path or time: a file's size and SHA-256 digest, or a zip
member's size and CRC-32 (read from the zip's directory, without opening the member). So enrolling a new
class embeds only its images, a file rewritten with its old modification time is still seen as changed,
and a gallery named by a relative or an absolute path is the same gallery. The cache file is one `.npz`
per gallery and reading options (`RUN/gallery-<hash>.npz`) holding the model's digest, each image's
member name and content key, and its embedding; a changed model re-embeds everything. A cache that
cannot be read is embedded again, never trusted, and cache files of galleries that no longer exist (or
of earlier siamese-kit versions) are removed when a cache is written.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import replace_atomically
from ..data.sources.download import file_digest

FORMAT = 2
# Cache names of earlier versions (one file per path-and-time key, and an HNSW folder beside it).
_OLD_NAMES = re.compile(r"^gallery-[0-9a-f]{16}(\.npz|-index)$")


@dataclass
class GalleryUpdate:
    """What bringing a gallery's cached embeddings up to date did.

    Attributes:
        added: member names (`class/file.png`) new since the cache was written.
        changed: members whose content differs from the cached one.
        removed: cached members no longer in the gallery.
        embedded: images embedded now (added + changed, or all of them for a new model or cache).
        cache: the cache file, or None when nothing is kept.
        reason: why everything was embedded, when it was (`"no cache yet"`, `"the model changed"`,
            `"the cache could not be read: ..."`), else "".
    """

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    embedded: int = 0
    cache: Path | None = None
    reason: str = ""

    def summary(self, listed: int = 20) -> dict:
        """Args:
            listed: member names shown per list before "... and N more".

        Returns:
            JSON-ready counts and (shortened) lists."""

        def shown(names):
            return names[:listed] + ([f"... and {len(names) - listed} more"] if len(names) > listed else [])

        return {"added": len(self.added), "changed": len(self.changed), "removed": len(self.removed),
                "embedded": self.embedded, "added_files": shown(self.added), "changed_files": shown(self.changed),
                "removed_files": shown(self.removed), "cache": str(self.cache) if self.cache else None,
                **({"reason": self.reason} if self.reason else {})}


def content_keys(source: Path, members) -> list[str]:
    """Each member's content key: `size:sha256` for a file in a folder, `size:crc32` for a zip member.

    Args:
        source: the gallery folder or zip.
        members: names inside it (`class/file.png`).

    Returns:
        one key per member.
    """
    source = Path(source)
    if source.is_dir():
        keys = []
        for member in members:
            data = source.joinpath(*member.split("/")).read_bytes()
            keys.append(f"{len(data)}:{hashlib.sha256(data).hexdigest()[:32]}")
        return keys
    with zipfile.ZipFile(source) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        return [f"{infos[m].file_size}:crc{infos[m].CRC:08x}" for m in members]


def cache_path(cache_dir: Path, source: Path, reading: str) -> Path:
    """The cache file of a gallery read a given way, the same for a relative or an absolute path.

    Args:
        cache_dir: the run folder.
        source: the gallery folder or zip.
        reading: how images are read (size, colour, padding), so two readings never share a cache.

    Returns:
        `cache_dir/gallery-<hash>.npz`.
    """
    key = hashlib.sha256(f"{Path(source).expanduser().resolve()}\0{reading}".encode()).hexdigest()[:24]
    return Path(cache_dir) / f"gallery-{key}.npz"


def _stored(cache: Path) -> tuple[dict | None, str]:
    """The cache's arrays, or None and why it cannot be used."""
    if not cache.is_file():
        return None, "no cache yet"
    try:
        with np.load(cache, allow_pickle=False) as stored:
            values = {name: stored[name] for name in ("format", "model", "members", "keys", "embeddings", "source")}
        if int(values["format"]) != FORMAT or len(values["members"]) != len(values["embeddings"]):
            return None, "the cache could not be read: another format"
        return values, ""
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        return None, f"the cache could not be read: {type(error).__name__}"


def cached_embeddings(embed, read_images, members, source: Path, cache_dir, model_path,
                      reading: str) -> tuple[np.ndarray, GalleryUpdate]:
    """The gallery's embeddings, reading and embedding only the images the cache does not hold as they are now.

    Args:
        embed: `images -> [n, D] embeddings` (the run's model).
        read_images: `rows -> [len(rows), H, W, C]` images of those positions of `members`; a gallery
            whose cache is up to date decodes none.
        members: each image's name inside the gallery.
        source: the gallery folder or zip.
        cache_dir: where to keep the cache; None keeps nothing.
        model_path: the model file (its digest is part of the cache); None keeps nothing.
        reading: how the images were read (see `cache_path`).

    Returns:
        `(embeddings [N, D], GalleryUpdate)`.
    """
    members = list(members)
    if cache_dir is None or model_path is None:
        embeddings = np.asarray(embed(read_images(list(range(len(members))))), np.float32)
        return embeddings, GalleryUpdate(added=members, embedded=len(members), reason="no cache kept")
    cache = cache_path(cache_dir, source, reading)
    keys = content_keys(source, members)
    model = file_digest(Path(model_path))
    stored, reason = _stored(cache)
    if stored is not None and str(stored["model"]) != model:
        stored, reason = None, "the model changed"
    previous = {} if stored is None else {str(m): (str(k), row) for row, (m, k) in
                                            enumerate(zip(stored["members"], stored["keys"]))}
    update = GalleryUpdate(cache=cache, reason=reason)
    rows_to_embed, reused = [], {}
    for row, (member, key) in enumerate(zip(members, keys)):
        known = previous.get(member)
        if known is not None and known[0] == key:
            reused[row] = known[1]
            continue
        rows_to_embed.append(row)
        if stored is not None:
            (update.changed if known is not None else update.added).append(member)
    if stored is None:
        update.added = members
    current = set(members)
    update.removed = [] if stored is None else sorted(m for m in previous if m not in current)
    embedded = np.asarray(embed(read_images(rows_to_embed)), np.float32) if rows_to_embed else None
    dim = embedded.shape[1] if embedded is not None else stored["embeddings"].shape[1]
    embeddings = np.empty((len(members), dim), np.float32)
    if reused:
        embeddings[list(reused)] = stored["embeddings"][list(reused.values())]
    if embedded is not None:
        embeddings[rows_to_embed] = embedded
    update.embedded = len(rows_to_embed)
    if update.embedded or update.removed or stored is None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        replace_atomically(cache, lambda path: save_npz(
            path, format=np.array(FORMAT), model=np.array(model), members=np.array(members, dtype=str),
            keys=np.array(keys, dtype=str), embeddings=embeddings,
            source=np.array(str(Path(source).expanduser().resolve()))))
        _prune(Path(cache_dir), keep=cache)
    return embeddings, update


def _prune(cache_dir: Path, keep: Path) -> None:
    """Removes cache files of earlier versions and of galleries whose folder or zip is gone."""
    for path in cache_dir.glob("gallery-*"):
        if path == keep:
            continue
        if _OLD_NAMES.match(path.name):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            continue
        if path.suffix != ".npz" or path.name.startswith(".tmp-"):
            continue
        stored, _ = _stored(path)
        if stored is None or not Path(str(stored["source"])).exists():
            path.unlink(missing_ok=True)


def save_npz(path: Path, **arrays) -> None:
    """Arrays to an `.npz` at exactly `path` (for `replace_atomically`'s temporary name).

    Args:
        path: the file.
        **arrays: name -> array.
    """
    # An open file, so NumPy keeps the temporary name instead of appending ".npz" to it.
    with open(path, "wb") as f:
        np.savez(f, **arrays)


__all__ = ["FORMAT", "GalleryUpdate", "cache_path", "cached_embeddings", "content_keys", "save_npz"]
