"""Atomic writes: a kill mid-write leaves the old file whole, and a finished write survives a power cut."""

import os
import stat

import pytest

from siamese_kit._files import replace_atomically, write_json


def _record_fsyncs(monkeypatch, events):
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(source, target):
        events.append("rename")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)


def test_the_folder_is_flushed_after_the_rename(tmp_path, monkeypatch):
    # Without the folder's own fsync the rename can be lost in a power cut, leaving the old file
    # (or none) although the call returned: the checkpointer flushes its folder for the same reason.
    events = []
    _record_fsyncs(monkeypatch, events)
    write_json(tmp_path / "summary.json", {"accuracy": 0.9})
    assert events == ["fsync file", "rename", "fsync folder"]
    assert (tmp_path / "summary.json").read_text() == '{\n  "accuracy": 0.9\n}\n'


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"the trained model")

    def write_half(path):
        path.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        replace_atomically(target, write_half)
    assert target.read_bytes() == b"the trained model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
