"""Atomic writes for every store: a reader sees the old content or the new, never half of it.

A file is written to a hidden temporary file in the same folder, flushed to disk, then renamed
over the target with :func:`os.replace` (atomic on POSIX and Windows within one file system).
A folder (an adapter, an emotion model, a converted checkpoint) is filled inside a hidden
temporary folder that :func:`atomic_dir` renames into place when the ``with`` block succeeds.
On any error, including ``KeyboardInterrupt``, the temporary is removed and the target keeps
its old content. Temporaries start with ``.`` and end with ``.tmp``, so listings of store
names (which must match :mod:`core.names`) never show them.

What this leaves out: locking. Two writers of the same target both succeed and the last rename
wins; callers that must not overwrite pass ``overwrite=False`` or check first.

Example:
    >>> write_text_atomic(path, json.dumps(run))  # doctest: +SKIP
    >>> with atomic_dir(root / "my-adapter") as tmp:  # doctest: +SKIP
    ...     model.save_pretrained(tmp)  # an exception here leaves root/my-adapter untouched
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _temp_beside(target: Path, suffix: str = "tmp") -> Path:
    """A fresh hidden name beside ``target``: ``a/run.json -> a/.run.json.3f9c2a1b.tmp``."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.{suffix}")


def write_bytes_atomic(path: Path | str, data: bytes, *, fsync: bool = True) -> Path:
    """Replace ``path`` with ``data`` atomically (parent folders are created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path | str, text: str, *, encoding: str = "utf-8",
                      fsync: bool = True) -> Path:
    """:func:`write_bytes_atomic` for text (encoded first, so an encoding error writes nothing)."""
    return write_bytes_atomic(path, text.encode(encoding), fsync=fsync)


@contextmanager
def atomic_dir(target: Path | str, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``target``; on success it becomes ``target``.

    An existing ``target`` is replaced (moved aside, then deleted after the rename; moved back
    if the rename fails) unless ``overwrite`` is False, which raises ``FileExistsError`` and
    keeps it. Example: ``with atomic_dir(models / "m1") as tmp: (tmp / "w.npz").write_bytes(b)``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(target)
    tmp.mkdir()
    old: Path | None = None
    try:
        yield tmp
        if target.exists():
            if not overwrite:
                raise FileExistsError(f"{target} exists")
            old = _temp_beside(target, "old")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)
                old = None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
