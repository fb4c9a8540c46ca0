"""Opening zip archives safely: every member is vetted before any byte of one is read or written.

Every zip reader in siamese_kit (image folders and Omniglot splits in `folders.py`, Lake's runs in
`lake.py`) opens its archive with `open_zip`, which refuses the whole archive when a member

- has an absolute name, a drive letter or a `..` part (it could point outside the dataset);
- is a symbolic link or another special file (zip tools store the Unix mode in `external_attr`);
- is encrypted (reading it would need a password);
- declares an uncompressed size out of all proportion to the data: a zip bomb. A member larger than
  `BOMB_MIN_BYTES` (10 MiB) that is more than `MAX_COMPRESSION_RATIO` (200) times its compressed
  size, or members adding up to more than `MAX_TOTAL_BYTES` (4 GiB), or more than `MAX_MEMBERS`.

Why these limits: image datasets are stored as PNG/JPEG, which hardly compress further (Omniglot's
zips have ratios near 1; a PNG can reach maybe 20 on blank scans), and the largest dataset the
toolkit reads in memory, Omniglot's background split, is about 100 MB decoded. A zip of zeros reaches
ratios near 1,000. Python's `zipfile` never inflates a member past the size its header declares (it
stops there and fails the CRC check), so checking the declared sizes bounds what a read can cost.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from ..imageset import DataError

MAX_TOTAL_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
BOMB_MIN_BYTES = 10 * 1024**2
MAX_MEMBERS = 1_000_000

_UNIX_SYSTEM = 3  # ZipInfo.create_system of archives made on Unix (and macOS)


def check_member_name(zip_path: Path, member: str) -> None:
    """Refuses a member whose name could point outside the archive's own tree.

    Args:
        zip_path: the archive, named in the message.
        member: the member's stored name.

    Raises:
        DataError: for an absolute name, a drive letter or a `..` part.
    """
    parts = member.replace("\\", "/").split("/")
    if member.startswith(("/", "\\")) or (len(member) > 1 and member[1] == ":") or ".." in parts:
        raise DataError(
            f"{zip_path}: refusing member {member!r}: its name is absolute or contains '..'. "
            "Re-create the zip from inside the dataset folder so every name is relative."
        )


def check_member(zip_path: Path, info: zipfile.ZipInfo) -> None:
    """Refuses one member that is unsafe to read (see the module docstring for the rules).

    Args:
        zip_path: the archive, named in the message.
        info: the member's header.

    Raises:
        DataError: naming the archive, the member and the fix.
    """
    check_member_name(zip_path, info.filename)
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise DataError(
            f"{zip_path}: refusing member {info.filename!r}: it is a symbolic link, which could "
            "point anywhere on disk. Re-create the zip with the files themselves (zip without -y)."
        )
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR) and info.create_system == _UNIX_SYSTEM:
        raise DataError(
            f"{zip_path}: refusing member {info.filename!r}: it is a special file (mode "
            f"{oct(mode)}), not a regular file or folder. Re-create the zip from plain files."
        )
    if info.flag_bits & 0x1:
        raise DataError(
            f"{zip_path}: member {info.filename!r} is encrypted; unzip it with its password and pass "
            "the folder, or re-create the zip without a password."
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > BOMB_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise DataError(
            f"{zip_path}: refusing member {info.filename!r}: it claims {info.file_size:,} bytes from "
            f"{info.compress_size:,} compressed (ratio {ratio:,.0f}, the limit is "
            f"{MAX_COMPRESSION_RATIO}), which is how a zip bomb looks. If the data is genuine, unzip "
            "it yourself and pass the folder."
        )


def check_zip(zip_path: Path, archive: zipfile.ZipFile) -> None:
    """Refuses an archive with any unsafe member, or whose members add up to too much.

    Args:
        zip_path: the archive, named in messages.
        archive: the open archive (only its central directory has been read).

    Raises:
        DataError: naming the archive, the member or the total, and the fix.
    """
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise DataError(
            f"{zip_path}: refusing an archive of {len(members):,} members (the limit is "
            f"{MAX_MEMBERS:,}); split the dataset or unzip it and pass the folder."
        )
    total = 0
    for info in members:
        check_member(zip_path, info)
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise DataError(
            f"{zip_path}: refusing an archive whose members claim {total:,} bytes uncompressed "
            f"(the limit is {MAX_TOTAL_BYTES:,}, 4 GiB), more than a dataset read into memory should "
            "be: a zip bomb or a header that lies. Unzip it yourself and pass the folder if it is genuine."
        )


def open_zip(zip_path: Path, what: str) -> zipfile.ZipFile:
    """Opens a zip and vets every member before anything is read from it.

    Args:
        zip_path: the archive.
        what: how to describe what the caller expected, for the message when it is not a zip
            (e.g. "a folder or a .zip holding one subfolder per class").

    Returns:
        the open `zipfile.ZipFile`; close it (or use it in a `with`).

    Raises:
        DataError: if the file is not a readable zip, or any member is unsafe.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{zip_path} is neither a folder nor a readable .zip file ({e}); pass {what}.") from e
    try:
        check_zip(zip_path, archive)
    except BaseException:
        archive.close()
        raise
    return archive


__all__ = ["BOMB_MIN_BYTES", "MAX_COMPRESSION_RATIO", "MAX_MEMBERS", "MAX_TOTAL_BYTES", "check_zip", "open_zip"]
