"""The knowledge-base build journal: one small JSON file per build in progress, beside the tables.

A build writes ``_building-<kb>.json`` (``{"kb", "version", "pid", "host"}``) before its first
write to LanceDB and removes it after the last, so a store opened later can tell a build that
died half-way (restore ``version``, or drop a new table) from one still running. The journal
lives where the tables live: a local folder (written atomically with :mod:`core.atomic`), or
the same bucket and prefix on object storage (one PUT, atomic by itself) through
``pyarrow.fs`` with the LanceDB storage options. A writer is known dead only when it ran on
this host and its pid is gone; journals of other hosts are left to them.

Example:
    >>> j = BuildJournal.for_location("/data/lancedb", {})  # doctest: +SKIP
    >>> j.write("default", {"kb": "default", "version": 3})  # adds pid and host  # doctest: +SKIP
    >>> [e["version"] for e in j.entries()]  # doctest: +SKIP
    [3]
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from core.atomic import write_text_atomic
from core.errors import UserError

PREFIX = "_building-"
HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def writer_alive(entry: dict) -> bool:
    """Whether the build that wrote ``entry`` may still run (another host's: assume yes)."""
    if entry.get("host", HOST) != HOST:
        return True
    try:
        return _alive(int(entry.get("pid", 0)))
    except (TypeError, ValueError):
        return False


def _s3_filesystem(options: dict[str, str]):
    import pyarrow.fs as pafs

    endpoint = options.get("aws_endpoint", "")
    kwargs: dict[str, object] = {}
    if endpoint:
        parsed = urlparse(endpoint)
        kwargs["endpoint_override"] = parsed.netloc or endpoint
        kwargs["scheme"] = parsed.scheme or "https"
    if options.get("aws_access_key_id"):
        kwargs["access_key"] = options["aws_access_key_id"]
        kwargs["secret_key"] = options.get("aws_secret_access_key", "")
    if options.get("aws_region"):
        kwargs["region"] = options["aws_region"]
    return pafs.S3FileSystem(**kwargs)


class BuildJournal:
    """Journal files under one folder of a filesystem (local, or a bucket prefix)."""

    def __init__(self, fs, base: str, *, local: bool):
        self.fs, self.base, self.local = fs, base.rstrip("/"), local

    @classmethod
    def for_location(cls, location: str, storage_options: dict[str, str]) -> BuildJournal | None:
        """The journal for a LanceDB location; None for a scheme it cannot write (db://)."""
        if "://" not in location:
            return cls(None, str(Path(location)), local=True)
        parsed = urlparse(location)
        if parsed.scheme in ("s3", "s3a"):
            return cls(_s3_filesystem(storage_options), f"{parsed.netloc}{parsed.path}",
                       local=False)
        if parsed.scheme == "file":
            return cls(None, parsed.path, local=True)
        return None

    def _path(self, kb: str) -> str:
        return f"{self.base}/{PREFIX}{kb}.json"

    def write(self, kb: str, entry: dict) -> None:
        text = json.dumps({**entry, "pid": os.getpid(), "host": HOST})
        if self.local:
            write_text_atomic(Path(self._path(kb)), text)
            return
        try:
            with self.fs.open_output_stream(self._path(kb)) as out:
                out.write(text.encode())
        except OSError as exc:
            raise UserError(f"cannot write the build journal to object storage: "
                            f"{str(exc).splitlines()[0][:200]}") from exc

    def remove(self, kb: str) -> None:
        self._delete(self._path(kb))

    def _delete(self, path: str) -> None:
        if self.local:
            Path(path).unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    def entries(self) -> list[dict]:
        """Every readable journal entry, each with ``_path``; unreadable ones are removed
        (a journal cut short means nothing was written yet)."""
        out = []
        for path in self._list():
            try:
                entry = json.loads(self._read(path))
                entry["kb"], entry["version"]
            except (OSError, ValueError, KeyError, TypeError):
                self._delete(path)
                continue
            out.append({**entry, "_path": path})
        return out

    def done(self, entry: dict) -> None:
        self._delete(entry["_path"])

    def _list(self) -> list[str]:
        if self.local:
            folder = Path(self.base)
            return sorted(str(p) for p in folder.glob(f"{PREFIX}*.json")) if folder.is_dir() else []
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self.base, allow_not_found=True))
        return sorted(i.path for i in infos if i.base_name.startswith(PREFIX)
                      and i.base_name.endswith(".json"))

    def _read(self, path: str) -> str:
        if self.local:
            return Path(path).read_text()
        with self.fs.open_input_stream(path) as f:
            return f.read().decode()
