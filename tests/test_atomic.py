"""Atomic writes (core/atomic.py): a failure mid-write keeps the old content, no temp is left."""

from __future__ import annotations

import os

import pytest

from core.atomic import atomic_dir, write_bytes_atomic, write_text_atomic


def test_write_replaces_and_creates_parents(tmp_path):
    path = tmp_path / "a" / "b" / "run.json"
    assert write_text_atomic(path, "one") == path
    write_text_atomic(path, "two")
    assert path.read_text() == "two"
    assert os.listdir(path.parent) == ["run.json"]


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_a_crash_mid_write_keeps_the_old_content(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "store.json"
    write_bytes_atomic(path, b"old")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, fail_at, crash)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(path, b"new" * 1000)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["store.json"]


def test_an_encoding_error_writes_nothing(tmp_path):
    path = tmp_path / "x.txt"
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(path, "caf\u00e9", encoding="ascii")
    assert os.listdir(tmp_path) == []


def test_dir_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "w.bin").write_bytes(b"1")
        assert not target.exists() and tmp.name.startswith(".")
    assert (target / "w.bin").read_bytes() == b"1"
    assert os.listdir(tmp_path) == ["model"]


def test_dir_failure_keeps_the_old_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "w.bin").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "w.bin").write_bytes(b"half")
        raise KeyboardInterrupt
    assert (target / "w.bin").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model"]


def test_dir_replaces_an_existing_folder_or_refuses(tmp_path):
    target = tmp_path / "model"
    for content in (b"v1", b"v2"):
        with atomic_dir(target) as tmp:
            (tmp / "w.bin").write_bytes(content)
    assert os.listdir(target) == ["w.bin"] and (target / "w.bin").read_bytes() == b"v2"
    with pytest.raises(FileExistsError), atomic_dir(target, overwrite=False) as tmp:
        (tmp / "w.bin").write_bytes(b"v3")
    assert (target / "w.bin").read_bytes() == b"v2"
    assert os.listdir(tmp_path) == ["model"]


def test_dir_rename_failure_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "w.bin").write_bytes(b"old")
    real = os.replace

    def replace(src, dst):
        if str(src).endswith(".tmp"):
            raise OSError("rename failed")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"), atomic_dir(target) as tmp:
        (tmp / "w.bin").write_bytes(b"new")
    assert (target / "w.bin").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model"]
